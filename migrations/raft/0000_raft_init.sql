CREATE TABLE `raft_conf_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`conf` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `raft_entries` (
	`index` integer PRIMARY KEY NOT NULL,
	`term` integer NOT NULL,
	`kind` text NOT NULL,
	`data` text NOT NULL,
	`checksum` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `raft_hard_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`term` integer NOT NULL,
	`vote` integer NOT NULL,
	`commit` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `raft_log_start` (
	`id` integer PRIMARY KEY NOT NULL,
	`index` integer NOT NULL,
	`term` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `raft_snapshot` (
	`id` integer PRIMARY KEY NOT NULL,
	`index` integer NOT NULL,
	`term` integer NOT NULL,
	`conf` text NOT NULL,
	`data` blob NOT NULL,
	`checksum` integer NOT NULL
);
