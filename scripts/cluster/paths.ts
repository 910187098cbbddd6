import path from "path";

/** Where the compiled build and the cluster's own data live (this file runs from dist/scripts/cluster/). */
export const ROOT = path.resolve(__dirname, "../../..");
export const SERVER_SCRIPT = path.join(ROOT, "dist/server.js");
export const MIGRATE_SCRIPT = path.join(ROOT, "dist/scripts/migrate.js");
export const SECRET_FILE = path.join(ROOT, "data/.cluster-jwt-secret");
