CREATE TABLE `allocations` (
	`id` text PRIMARY KEY NOT NULL,
	`eval_id` text NOT NULL,
	`job_id` text NOT NULL,
	`job_version` integer NOT NULL,
	`group_name` text NOT NULL,
	`name` text NOT NULL,
	`node_id` text NOT NULL,
	`deployment_id` text,
	`cpu_mhz` integer NOT NULL,
	`memory_mb` integer NOT NULL,
	`ports` text NOT NULL,
	`desired_status` text NOT NULL,
	`desired_reason` text NOT NULL,
	`client_status` text NOT NULL,
	`client_detail` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	`modified_at_ms` integer NOT NULL,
	`create_index` integer NOT NULL,
	`modify_index` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `allocations_job` ON `allocations` (`job_id`);--> statement-breakpoint
CREATE INDEX `allocations_node` ON `allocations` (`node_id`);--> statement-breakpoint
CREATE TABLE `deployments` (
	`id` text PRIMARY KEY NOT NULL,
	`job_id` text NOT NULL,
	`job_version` integer NOT NULL,
	`status` text NOT NULL,
	`detail` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	`modified_at_ms` integer NOT NULL,
	`modify_index` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `evaluations` (
	`id` text PRIMARY KEY NOT NULL,
	`job_id` text NOT NULL,
	`triggered_by` text NOT NULL,
	`priority` integer NOT NULL,
	`node_id` text,
	`status` text NOT NULL,
	`detail` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	`modified_at_ms` integer NOT NULL,
	`modify_index` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `job_versions` (
	`job_id` text NOT NULL,
	`version` integer NOT NULL,
	`spec` text NOT NULL,
	`submitted_at_ms` integer NOT NULL,
	`log_index` integer NOT NULL,
	PRIMARY KEY(`job_id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`version` integer NOT NULL,
	`status` text NOT NULL,
	`submitted_at_ms` integer NOT NULL,
	`modify_index` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `join_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`role` text NOT NULL,
	`expires_at_ms` integer NOT NULL,
	`created_at_ms` integer NOT NULL,
	`used_at_ms` integer,
	`used_by_node_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `join_tokens_hash` ON `join_tokens` (`hash`);--> statement-breakpoint
CREATE TABLE `nodes` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`address` text NOT NULL,
	`api_address` text NOT NULL,
	`role` text NOT NULL,
	`labels` text NOT NULL,
	`cpu_mhz` integer NOT NULL,
	`memory_mb` integer NOT NULL,
	`status` text NOT NULL,
	`registered_at_ms` integer NOT NULL,
	`status_changed_at_ms` integer NOT NULL,
	`modify_index` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `rejected_entries` (
	`log_index` integer PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`code` text NOT NULL,
	`reason` text NOT NULL,
	`at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `secrets` (
	`name` text PRIMARY KEY NOT NULL,
	`ciphertext` text NOT NULL,
	`nonce` text NOT NULL,
	`key_id` text NOT NULL,
	`version` integer NOT NULL,
	`updated_at_ms` integer NOT NULL,
	`modify_index` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `state_meta` (
	`id` integer PRIMARY KEY NOT NULL,
	`applied_index` integer NOT NULL,
	`applied_term` integer NOT NULL,
	CONSTRAINT "state_meta_single_row" CHECK("state_meta"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE `tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`role` text NOT NULL,
	`hash` text NOT NULL,
	`expires_at_ms` integer,
	`created_at_ms` integer NOT NULL,
	`revoked_at_ms` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tokens_hash` ON `tokens` (`hash`);