import fs from "fs";
import path from "path";

/** The project's root: the nearest folder up from this file with a package.json (the same from lib/ and dist/lib/). */
function findProjectRoot(from: string): string {
	for (let dir = from; ; dir = path.dirname(dir)) {
		if (fs.existsSync(path.join(dir, "package.json"))) return dir;
		if (path.dirname(dir) === dir) return from;
	}
}

export const PROJECT_ROOT = findProjectRoot(__dirname);

/** The web chat as `npm run build:web` builds it from web/; the gateway serves it at /. */
export const WEB_BUILD_DIR = path.join(PROJECT_ROOT, "dist", "web");
