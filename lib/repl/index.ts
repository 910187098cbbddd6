import type { ServiceBroker } from "moleculer";
import { GochatCommand, Printable, UsageError } from "./cluster";
import { conversationCommands } from "./conversations";
import { deadLetterCommands } from "./dead-letters";
import { statsCommands } from "./stats";
import { userCommands } from "./users";

/** Every `gochat` subcommand, in the order `gochat help` lists them. */
export const gochatCommands: GochatCommand[] = [
	...statsCommands,
	...userCommands,
	...conversationCommands,
	...deadLetterCommands
];

function help(commands: GochatCommand[]): Printable[] {
	return [
		"GoChat operators' commands (every node of the cluster):",
		...commands.map(c => `  gochat ${c.usage.padEnd(28)} ${c.description}`)
	];
}

/** Runs `gochat <words...>` and returns what to print; a wrong use gets the usage, not a stack. */
export async function runGochat(
	broker: ServiceBroker,
	words: string[],
	commands = gochatCommands
): Promise<Printable[]> {
	const [name, ...args] = words;
	if (name === undefined || name === "help") return help(commands);
	const command = commands.find(c => c.name === name);
	if (!command) return [`Unknown command "gochat ${name}".`, ...help(commands)];
	try {
		return await command.run(broker, args);
	} catch (err) {
		if (err instanceof UsageError) return [err.message];
		return [`gochat ${name} failed: ${err instanceof Error ? err.message : String(err)}`];
	}
}

/** What moleculer-repl hands a command's action besides the broker and its params. */
export interface ReplHelpers {
	table(rows: Array<Array<string | number>>): string;
}

/** Writes a command's output to the REPL's console. */
export function print(
	out: Printable[],
	helpers: ReplHelpers,
	log: (text: string) => void = text => console.log(text)
): void {
	for (const item of out) log(typeof item === "string" ? item : helpers.table(item.table));
}

/**
 * The broker's `replCommands`. Commander (under moleculer-repl) takes one command per name, so
 * `gochat` is one REPL command whose first word picks the subcommand.
 */
export const replCommands = [
	{
		command: "gochat [words...]",
		description: "GoChat operators' commands; `gochat help` lists them",
		allowUnknownOptions: true,
		// Every word after `gochat`, as typed: moleculer-repl's default parser keeps one word per declared argument.
		parse(command: { args: string[]; params?: { words: string[] } }) {
			command.params = { words: command.args };
		},
		async action(broker: ServiceBroker, params: { words: string[] }, helpers: ReplHelpers) {
			print(await runGochat(broker, params.words), helpers);
		}
	}
];
