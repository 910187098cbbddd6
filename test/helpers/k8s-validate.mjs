/**
 * Validates Kubernetes objects with kubernetes-models' JSON-schema validators (`new Deployment(obj)
 * .validate()`). The package is an ES module, which Jest's CommonJS runtime cannot load, so
 * test/helpers/k8s-schemas.ts runs this file with node.
 * stdin: a JSON array of objects; stdout: a JSON array, in the same order, of null (valid) or the
 * reason it is not (including "no schema" for an apiVersion and kind the package does not know).
 */
import process from "node:process";

/** "apps/v1" + Deployment → kubernetes-models/apps/v1/Deployment; "v1" + Service → kubernetes-models/v1/Service. */
function modulePath(apiVersion, kind) {
	if (typeof apiVersion !== "string" || !/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) return null;
	if (typeof kind !== "string" || !/^[A-Z][A-Za-z]+$/.test(kind)) return null;
	return `kubernetes-models/${apiVersion}/${kind}`;
}

async function validate(object) {
	const path = modulePath(object?.apiVersion, object?.kind);
	if (!path) return `no schema: apiVersion "${object?.apiVersion}", kind "${object?.kind}"`;
	let Model;
	try {
		Model = (await import(path))[object.kind];
	} catch {
		return `no schema: ${object.apiVersion} ${object.kind} is not a Kubernetes kind`;
	}
	if (typeof Model !== "function") return `no schema: ${object.apiVersion} ${object.kind} is not a Kubernetes kind`;
	try {
		new Model(object).validate();
		return null;
	} catch (err) {
		return err.message;
	}
}

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const object of JSON.parse(input)) results.push(await validate(object));
process.stdout.write(JSON.stringify(results));
