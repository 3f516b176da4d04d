ALTER TABLE "rpc_settings" ALTER COLUMN "requests_per_second" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "rpc_settings" ALTER COLUMN "max_in_flight" DROP NOT NULL;