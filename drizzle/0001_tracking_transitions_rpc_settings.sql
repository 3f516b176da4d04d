CREATE TABLE "indexer_tracked_packages" (
	"original_id" text NOT NULL,
	"match" text NOT NULL,
	"family_ids" text[] NOT NULL,
	"first_checkpoint" bigint,
	"registered_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activated_at" timestamp with time zone,
	CONSTRAINT "indexer_tracked_packages_original_id_match_pk" PRIMARY KEY("original_id","match"),
	CONSTRAINT "indexer_tracked_packages_match_check" CHECK ("indexer_tracked_packages"."match" in ('outer', 'anywhere'))
);
--> statement-breakpoint
CREATE TABLE "package_backfill_transitions" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "package_backfill_transitions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"request_id" uuid NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"actor" text NOT NULL,
	"reason" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rpc_settings" (
	"scope" text PRIMARY KEY NOT NULL,
	"requests_per_second" integer NOT NULL,
	"max_in_flight" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text
);
--> statement-breakpoint
ALTER TABLE "package_backfill_requests" DROP CONSTRAINT "package_backfill_requests_range_check";--> statement-breakpoint
ALTER TABLE "package_backfill_requests" ADD COLUMN "last_error_detail" jsonb;--> statement-breakpoint
ALTER TABLE "package_backfill_requests" ADD COLUMN "resumed_from_id" uuid;--> statement-breakpoint
ALTER TABLE "package_backfill_transitions" ADD CONSTRAINT "package_backfill_transitions_request_id_package_backfill_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."package_backfill_requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "package_backfill_transitions_request_idx" ON "package_backfill_transitions" USING btree ("request_id","id");--> statement-breakpoint
ALTER TABLE "package_backfill_requests" ADD CONSTRAINT "package_backfill_requests_range_check" CHECK ("package_backfill_requests"."from_checkpoint" <= "package_backfill_requests"."to_checkpoint" + 1);