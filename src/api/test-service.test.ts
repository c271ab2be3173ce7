import { runClusterServiceContract } from './cluster-service-contract.ts';
import { TestClusterService } from './test-service.ts';

// Proves TestClusterService honours the ClusterService contract the API tests rely on.
runClusterServiceContract('TestClusterService', () => {
  const service = new TestClusterService();
  return { service, close: () => service.close() };
});
