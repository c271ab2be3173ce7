CREATE TABLE `actor_cursors` (
	`actor` text PRIMARY KEY NOT NULL,
	`applied_index` integer NOT NULL,
	CONSTRAINT "actor_cursors_applied_index_nonnegative" CHECK("actor_cursors"."applied_index" >= 0)
);
--> statement-breakpoint
CREATE TABLE `local_log` (
	`log_index` integer PRIMARY KEY NOT NULL,
	`term` integer NOT NULL,
	`tag` integer NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	CONSTRAINT "local_log_index_positive" CHECK("local_log"."log_index" >= 1)
);
--> statement-breakpoint
CREATE TABLE `local_log_meta` (
	`id` integer PRIMARY KEY NOT NULL,
	`first_index` integer NOT NULL,
	CONSTRAINT "local_log_meta_single_row" CHECK("local_log_meta"."id" = 1),
	CONSTRAINT "local_log_meta_first_index_positive" CHECK("local_log_meta"."first_index" >= 1)
);
