import { expect, test } from 'bun:test';
import { buildRouteTable, matchRoute } from '../../actors/router/index.ts';
import {
  jobRegistered,
  nodeRegistered,
  openTestState,
  placement,
  planCommitted,
} from '../state/testing.ts';
import { routeTableInputFromState } from './from-state.ts';

test('the table built from committed state routes only healthy allocations at node hosts', () => {
  // Proves the agent-side glue: stored routes, allocation health and node addresses.
  const state = openTestState();
  state.submit('node_registered', nodeRegistered('n1', { address: '10.0.0.7:7000' }));
  state.submit('node_registered', nodeRegistered('n2', { address: '10.0.0.8:7000' }));
  const routes = [{ hosts: ['app.test'], paths: [], port: 'http', tls: false }];
  state.submit('job_registered', jobRegistered('web', { spec: { name: 'web', routes } }));
  state.submit(
    'plan_committed',
    planCommitted({
      place: [placement('a1', 'n1'), placement('a2', 'n2')],
      deployment: { id: 'd1' },
    }),
  );
  state.submit('allocation_status', { id: 'a1', status: 'healthy', detail: '', atMs: 3_100 });
  state.submit('allocation_status', { id: 'a2', status: 'running', detail: '', atMs: 3_100 });
  const maintenance = new Map([['other', 'x']]);
  const table = buildRouteTable(routeTableInputFromState(state.db, { maintenance }));
  expect(matchRoute(table, 'app.test', '/')?.upstreams).toEqual([
    { allocId: 'a1', version: 1, url: 'http://10.0.0.7:8080' },
  ]);
  const inMaintenance = routeTableInputFromState(state.db, {
    maintenance: new Map([['web', 'soon']]),
  });
  expect(inMaintenance.jobs[0]?.maintenance).toEqual({ message: 'soon' });
});

test('replicated maintenance reaches the route table; the options map still overrides it', () => {
  // Proves job_maintenance on → 503 decision with its message, off → proxied, map wins.
  const state = openTestState();
  state.submit('node_registered', nodeRegistered('n1', { address: '10.0.0.7:7000' }));
  const routes = [{ hosts: ['app.test'], paths: [], port: 'http', tls: false }];
  state.submit('job_registered', jobRegistered('web', { spec: { name: 'web', routes } }));
  state.submit('job_registered', jobRegistered('api', { spec: { name: 'api', routes: [] } }));
  state.submit('job_maintenance', { id: 'web', enabled: true, message: 'Back at 3pm', atMs: 4 });
  const input = routeTableInputFromState(state.db);
  expect(input.jobs.map((j) => [j.name, j.maintenance])).toEqual([
    ['api', undefined],
    ['web', { message: 'Back at 3pm' }],
  ]);
  const route = matchRoute(buildRouteTable(input), 'app.test', '/');
  expect(route?.maintenanceMessage).toBe('Back at 3pm');
  const overridden = routeTableInputFromState(state.db, {
    maintenance: new Map([['web', 'local override']]),
  });
  expect(overridden.jobs.find((j) => j.name === 'web')?.maintenance).toEqual({
    message: 'local override',
  });
  state.submit('job_maintenance', { id: 'web', enabled: false, atMs: 5 });
  const live = routeTableInputFromState(state.db);
  expect(live.jobs.find((j) => j.name === 'web')?.maintenance).toBeUndefined();
  expect(matchRoute(buildRouteTable(live), 'app.test', '/')?.maintenanceMessage).toBeNull();
});

test('stored tls routes carry redirect_http into the table; a spec without it redirects', () => {
  // Proves the stored `redirectHttp` (and its absence in older specs) reaches the routes.
  const state = openTestState();
  const routes = [
    { hosts: ['kept.test'], paths: [], port: 'http', tls: true },
    { hosts: ['plain.test'], paths: [], port: 'http', tls: true, redirectHttp: false },
  ];
  state.submit('job_registered', jobRegistered('web', { spec: { name: 'web', routes } }));
  const table = buildRouteTable(routeTableInputFromState(state.db));
  expect(matchRoute(table, 'kept.test', '/')?.redirectHttp).toBe(true);
  expect(matchRoute(table, 'plain.test', '/')?.redirectHttp).toBe(false);
});
