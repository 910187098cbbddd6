import { spawnSync } from "child_process";
import fs from "fs";
import path from "path";
import ts from "typescript";

/** A Kubernetes object as a manifest declares it. */
export interface K8sObject {
	apiVersion: string;
	kind: string;
	metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
	[field: string]: unknown;
}

const ROOT = path.resolve(__dirname, "../..");
const MODELS = path.join(ROOT, "node_modules/kubernetes-models");

/** "apps/v1" + Deployment → kubernetes-models/apps/v1/Deployment; null for a kind the package has no model of. */
function modelModule(object: K8sObject): string | null {
	if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(object.apiVersion ?? "") || !/^[A-Z][A-Za-z]+$/.test(object.kind ?? "")) {
		return null;
	}
	const module = `${object.apiVersion}/${object.kind}`;
	return fs.existsSync(path.join(MODELS, `${module}.d.ts`)) ? `kubernetes-models/${module}` : null;
}

function describeObject(object: K8sObject): string {
	return `${object.apiVersion} ${object.kind} "${object.metadata?.name ?? "(no name)"}"`;
}

/** kubernetes-models' JSON-schema validation (types, formats, required fields), run in node (ESM). */
function schemaProblems(objects: K8sObject[]): string[] {
	const run = spawnSync(process.execPath, [path.join(__dirname, "k8s-validate.mjs")], {
		cwd: ROOT,
		input: JSON.stringify(objects),
		encoding: "utf8",
		timeout: 60_000
	});
	if (run.status !== 0) throw new Error(`k8s-validate.mjs failed: ${run.stderr || run.error}`);
	const results = JSON.parse(run.stdout) as (string | null)[];
	return results.flatMap((problem, i) => (problem ? [`${describeObject(objects[i])}: ${problem}`] : []));
}

/**
 * Fields the API does not know (a misspelt `readinesProbe` passes the JSON schemas, which allow
 * extra properties, and the API server would silently drop it): each object is type-checked as a
 * fresh literal of its model's interface, where TypeScript refuses unknown properties at any depth.
 */
function unknownFieldProblems(objects: K8sObject[]): string[] {
	const modules = objects.map(modelModule);
	const file = path.join(ROOT, "__k8s-manifests__.ts");
	const lines: string[] = [];
	const firstLine: number[] = [];
	objects.forEach((object, i) => {
		if (!modules[i]) return;
		lines.push(`import type { I${object.kind} as T${i} } from "${modules[i]}";`);
	});
	objects.forEach((object, i) => {
		if (!modules[i]) return;
		firstLine[i] = lines.length;
		lines.push(`export const object${i}: T${i} = ${JSON.stringify(object)};`);
	});
	const source = lines.join("\n");
	const options: ts.CompilerOptions = {
		strict: true,
		noEmit: true,
		target: ts.ScriptTarget.ES2022,
		module: ts.ModuleKind.ESNext,
		// Resolves the package's "exports" map, as its types expect.
		moduleResolution: ts.ModuleResolutionKind.Bundler,
		skipLibCheck: true,
		types: []
	};
	const host = ts.createCompilerHost(options);
	const getSourceFile = host.getSourceFile.bind(host);
	const fileExists = host.fileExists.bind(host);
	host.getSourceFile = (name, language, ...rest) =>
		name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest);
	host.fileExists = name => name === file || fileExists(name);
	const program = ts.createProgram([file], options, host);
	return ts.getPreEmitDiagnostics(program).map(diagnostic => {
		const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ");
		if (!diagnostic.file || diagnostic.start === undefined) return message;
		const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
		const index = firstLine.findIndex(start => start === line);
		return index >= 0 ? `${describeObject(objects[index])}: ${message}` : message;
	});
}

/**
 * What is wrong with these objects as Kubernetes would see them: a kind with no schema, a value
 * of the wrong type or format, a missing required field, or a field the API does not have.
 * An empty list means all of them are valid.
 */
export function k8sProblems(objects: K8sObject[]): string[] {
	const unknownKinds = objects
		.filter(object => !modelModule(object))
		.map(object => `${describeObject(object)}: no schema (not a Kubernetes kind)`);
	const known = objects.filter(object => modelModule(object));
	return [...unknownKinds, ...schemaProblems(known), ...unknownFieldProblems(known)];
}
