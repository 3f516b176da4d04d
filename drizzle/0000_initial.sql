CREATE TABLE "sui_objects" (
	"object_id" text NOT NULL,
	"version" bigint NOT NULL,
	"object_type" text NOT NULL,
	"type_package" text NOT NULL,
	"type_module" text NOT NULL,
	"type_name" text NOT NULL,
	"owner_kind" text,
	"owner_address" text,
	"checkpoint" bigint NOT NULL,
	"tx_digest" text NOT NULL,
	"object_digest" text,
	"change" text NOT NULL,
	CONSTRAINT "sui_objects_object_id_version_pk" PRIMARY KEY("object_id","version"),
	CONSTRAINT "sui_objects_change_check" CHECK ("sui_objects"."change" in ('created', 'mutated', 'unwrapped', 'deleted', 'wrapped'))
);
--> statement-breakpoint
CREATE TABLE "sui_packages" (
	"package_id" text PRIMARY KEY NOT NULL,
	"original_id" text NOT NULL,
	"version" bigint NOT NULL,
	"publish_checkpoint" bigint,
	"publish_tx_digest" text NOT NULL,
	"published_at" timestamp with time zone,
	"type_origins" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"recorded_by" text DEFAULT 'rpc' NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sui_packages_recorded_by_check" CHECK ("sui_packages"."recorded_by" in ('indexer', 'rpc'))
);
--> statement-breakpoint
CREATE TABLE "watermarks" (
	"pipeline" text PRIMARY KEY NOT NULL,
	"epoch_hi_inclusive" bigint NOT NULL,
	"checkpoint_hi_inclusive" bigint NOT NULL,
	"tx_hi" bigint NOT NULL,
	"timestamp_ms_hi_inclusive" bigint NOT NULL,
	"reader_lo" bigint NOT NULL,
	"pruner_timestamp" timestamp NOT NULL,
	"pruner_hi" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "package_backfill_chunks" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "package_backfill_chunks_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"request_id" uuid NOT NULL,
	"from_checkpoint" bigint NOT NULL,
	"to_checkpoint" bigint NOT NULL,
	"objects_matched" integer NOT NULL,
	"rows_inserted" integer NOT NULL,
	"rpc_calls" integer NOT NULL,
	"duration_ms" integer NOT NULL,
	"worker_id" text NOT NULL,
	"finished_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "package_backfill_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"package_id" text NOT NULL,
	"requested_package_id" text NOT NULL,
	"family_ids" text[] NOT NULL,
	"match" text NOT NULL,
	"options_key" text NOT NULL,
	"from_checkpoint" bigint NOT NULL,
	"to_checkpoint" bigint NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"worker_id" text,
	"heartbeat_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"last_error_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "package_backfill_requests_range_check" CHECK ("package_backfill_requests"."from_checkpoint" <= "package_backfill_requests"."to_checkpoint"),
	CONSTRAINT "package_backfill_requests_status_check" CHECK ("package_backfill_requests"."status" in ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "package_backfill_watermarks" (
	"request_id" uuid PRIMARY KEY NOT NULL,
	"checkpoint_hi_inclusive" bigint NOT NULL,
	"done_ranges" "int8multirange" DEFAULT '{}'::int8multirange NOT NULL,
	"rows_inserted" bigint DEFAULT 0 NOT NULL,
	"objects_matched" bigint DEFAULT 0 NOT NULL,
	"checkpoints_done" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "package_backfill_chunks" ADD CONSTRAINT "package_backfill_chunks_request_id_package_backfill_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."package_backfill_requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "package_backfill_watermarks" ADD CONSTRAINT "package_backfill_watermarks_request_id_package_backfill_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."package_backfill_requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sui_objects_type_package_checkpoint_idx" ON "sui_objects" USING btree ("type_package","checkpoint");--> statement-breakpoint
CREATE INDEX "sui_packages_original_id_idx" ON "sui_packages" USING btree ("original_id","version");--> statement-breakpoint
CREATE INDEX "package_backfill_chunks_request_idx" ON "package_backfill_chunks" USING btree ("request_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "package_backfill_requests_active_idx" ON "package_backfill_requests" USING btree ("package_id","options_key") WHERE "package_backfill_requests"."status" in ('queued', 'running', 'paused');--> statement-breakpoint
CREATE INDEX "package_backfill_requests_status_idx" ON "package_backfill_requests" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "package_backfill_requests_package_idx" ON "package_backfill_requests" USING btree ("package_id","created_at");