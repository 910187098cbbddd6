import { Member, statusLine } from "./members";

/**
 * The members' status lines: redrawn in place on a terminal, one line per change otherwise (a log,
 * a test reading stdout). Other lines printed below the table make the next redraw start afresh.
 */
export class StatusTable {
	private drawn = 0;

	constructor(
		private readonly members: Member[],
		private readonly verbose: boolean
	) {}

	report(line: string): void {
		this.drawn = 0;
		console.log(line);
	}

	printTail(member: Member): void {
		for (const line of member.tail) console.log(`  [${member.name}] ${line}`);
		this.drawn = 0;
	}

	update(member: Member): void {
		if (this.redraws) this.draw();
		else console.log(statusLine(member));
	}

	/** A terminal gets the table redrawn in place; a pipe gets the changed line only. */
	private get redraws(): boolean {
		return Boolean(process.stdout.isTTY) && !this.verbose;
	}

	draw(): void {
		if (!this.redraws) return;
		if (this.drawn > 0) process.stdout.write(`\x1b[${this.drawn}A`);
		for (const member of this.members) process.stdout.write(`\x1b[2K${statusLine(member)}\n`);
		this.drawn = this.members.length;
	}
}
