CREATE TABLE `acme_challenges` (
	`token` text PRIMARY KEY NOT NULL,
	`key_authorization` text NOT NULL,
	`host` text NOT NULL,
	`created_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `acme_challenges_host` ON `acme_challenges` (`host`);--> statement-breakpoint
CREATE TABLE `cert_orders` (
	`host` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`order_url` text,
	`key_ciphertext` text,
	`key_nonce` text,
	`key_id` text,
	`attempts` integer NOT NULL,
	`last_error` text,
	`next_attempt_at_ms` integer NOT NULL,
	`renew_requested` integer NOT NULL,
	`updated_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `certificates` (
	`host` text PRIMARY KEY NOT NULL,
	`cert_pem` text NOT NULL,
	`key_ciphertext` text NOT NULL,
	`key_nonce` text NOT NULL,
	`key_id` text NOT NULL,
	`issuer` text NOT NULL,
	`serial` text NOT NULL,
	`not_before_ms` integer NOT NULL,
	`not_after_ms` integer NOT NULL,
	`issued_at_ms` integer NOT NULL,
	`modify_index` integer NOT NULL
);
