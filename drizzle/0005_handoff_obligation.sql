ALTER TABLE "package_backfill_coverage" ADD COLUMN "handoff_from" bigint;--> statement-breakpoint
ALTER TABLE "package_backfill_coverage" ADD COLUMN "handoff_options_key" text;--> statement-breakpoint
ALTER TABLE "package_backfill_coverage" ADD COLUMN "waived_ranges" "int8multirange" DEFAULT '{}'::int8multirange NOT NULL;--> statement-breakpoint
-- The obligation starts at the lowest first checkpoint of the existing requests with a defaulted end (no `to=` in their options key).
INSERT INTO "package_backfill_coverage" ("package_id", "match", "handoff_from", "handoff_options_key")
SELECT DISTINCT ON ("package_id", "match") "package_id", "match", "from_checkpoint", "options_key"
FROM "package_backfill_requests"
WHERE "options_key" !~ '(^|;)to='
ORDER BY "package_id", "match", "from_checkpoint", "created_at"
ON CONFLICT ("package_id", "match") DO UPDATE SET "handoff_from" = excluded."handoff_from", "handoff_options_key" = excluded."handoff_options_key";
--> statement-breakpoint
-- What cancelled requests with a defaulted end left unwalked is waived, unless another such request (a resume's continuation, a new one) asks for it again.
WITH "defaulted" AS (
  SELECT r."package_id", r."match", r."status",
    int8multirange(int8range(r."from_checkpoint", r."to_checkpoint" + 1)) AS "whole",
    int8multirange(int8range(r."from_checkpoint", r."to_checkpoint" + 1)) - coalesce(w."done_ranges", '{}'::int8multirange) AS "unwalked"
  FROM "package_backfill_requests" r LEFT JOIN "package_backfill_watermarks" w ON w."request_id" = r."id"
  WHERE r."options_key" !~ '(^|;)to='
), "waived" AS (
  SELECT "package_id", "match",
    coalesce(range_agg("unwalked") FILTER (WHERE "status" = 'cancelled'), '{}'::int8multirange)
      - coalesce(range_agg("whole") FILTER (WHERE "status" <> 'cancelled'), '{}'::int8multirange) AS "ranges"
  FROM "defaulted" GROUP BY "package_id", "match"
)
UPDATE "package_backfill_coverage" c SET "waived_ranges" = w."ranges"
FROM "waived" w WHERE c."package_id" = w."package_id" AND c."match" = w."match";
