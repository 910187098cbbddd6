import fs from "fs";
import path from "path";

/**
 * The service files a process runs, from SERVICES: roles ("gateway,logic") or single services
 * ("repo/users"). Compiled runs load .js, ts-node and jest load .ts.
 */
export function serviceFiles(selection: string[], servicesDir = path.resolve(__dirname, "../services")): string[] {
	const ext = __filename.endsWith(".ts") ? ".service.ts" : ".service.js";
	const files: string[] = [];
	for (const entry of selection) {
		const [role, name] = entry.split("/");
		const dir = path.join(servicesDir, role);
		const names = name
			? [`${name}${ext}`]
			: fs
					.readdirSync(dir)
					.filter(f => f.endsWith(ext))
					.sort();
		for (const file of names) {
			const full = path.join(dir, file);
			if (!fs.existsSync(full)) throw new Error(`SERVICES names "${entry}", but ${full} does not exist`);
			files.push(full);
		}
	}
	return [...new Set(files)];
}
