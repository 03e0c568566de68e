/**
 * Shaping rules that change without a restart: the main thread re-reads the `shaping_rules`
 * table every `delivery.rules_reload_interval` (and on demand, e.g. SIGHUP) and hands a changed
 * set to the delivery workers. When a set changes, units held by a pause are made due at once,
 * so a resumed destination or pool flows without waiting for its recheck.
 *
 * Talks to: the store. Reads config: delivery.rules_reload_interval.
 */
import type { ShapingRuleStore, UnitStore } from "../store/mod.ts";
import type { CheckedRule } from "../routing/policy.ts";
import { checkStoredRules } from "../routing/rule_check.ts";

/** Watches the stored shaping rules. */
export class RulesWatcher {
  #store: Pick<ShapingRuleStore, "listShapingRules"> & Pick<UnitStore, "releaseHeld">;
  #intervalMs: number;
  #onChange: (rules: CheckedRule[]) => void;
  #log: (line: string) => void;
  #current: CheckedRule[] = [];
  #signature = "";
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #loading: Promise<boolean> | null = null;

  constructor(
    store: Pick<ShapingRuleStore, "listShapingRules"> & Pick<UnitStore, "releaseHeld">,
    intervalMs: number,
    onChange: (rules: CheckedRule[]) => void,
    log: (line: string) => void,
  ) {
    this.#store = store;
    this.#intervalMs = intervalMs;
    this.#onChange = onChange;
    this.#log = log;
  }

  /** The rules as last read. */
  get rules(): CheckedRule[] {
    return this.#current;
  }

  /** Reads the rules; calls `onChange` (and releases paused units) when they changed. */
  reload(): Promise<boolean> {
    this.#loading ??= this.#load().finally(() => this.#loading = null);
    return this.#loading;
  }

  async #load(): Promise<boolean> {
    try {
      const rows = await this.#store.listShapingRules();
      const stored = rows.map((r) => ({ pattern: r.pattern, rule: r.rule }));
      const signature = JSON.stringify(stored);
      if (signature === this.#signature) return false;
      const first = this.#signature === "";
      this.#signature = signature;
      // Checked here, once, so the delivery workers get valid rules only (and need no schema).
      const { rules, problems } = checkStoredRules(stored);
      for (const problem of problems) this.#log(`ignoring shaping rule ${problem}`);
      this.#current = rules;
      this.#onChange(rules);
      // Paused units are looked at again whenever the rules may have changed (and at start,
      // when the file may have changed): those still paused are simply held again.
      const released = await this.#store.releaseHeld("paused", Date.now());
      if (!first || released > 0) {
        this.#log(
          `shaping rules ${first ? "loaded" : "changed"} (${rules.length} stored)${
            released > 0 ? `; ${released} paused units due again` : ""
          }`,
        );
      }
      return true;
    } catch (error) {
      this.#log(`cannot read shaping rules: ${(error as Error).message}`);
      return false;
    }
  }

  /** Reads the rules now and then every interval. */
  async start(): Promise<void> {
    await this.reload();
    this.#arm();
  }

  #arm() {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      await this.reload();
      this.#arm();
    }, this.#intervalMs);
  }

  /** Stops the periodic reload. */
  stop() {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }
}
