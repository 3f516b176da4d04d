CREATE TABLE "package_backfill_coverage" (
	"package_id" text NOT NULL,
	"match" text NOT NULL,
	"done_ranges" "int8multirange" DEFAULT '{}'::int8multirange NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "package_backfill_coverage_package_id_match_pk" PRIMARY KEY("package_id","match")
);
--> statement-breakpoint
-- What the existing requests have done is their packages' first coverage.
INSERT INTO "package_backfill_coverage" ("package_id", "match", "done_ranges")
SELECT r."package_id", r."match", range_agg(w."done_ranges")
FROM "package_backfill_requests" r JOIN "package_backfill_watermarks" w ON w."request_id" = r."id"
GROUP BY r."package_id", r."match";
