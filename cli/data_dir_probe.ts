/**
 * Why a store could not be opened, when the cause is the data folder itself: SQLite says only
 * "unable to open database file" for a read-only or missing folder, which names neither.
 *
 * @module
 */

/** A sentence naming `data_dir` and what is wrong with it, or null if it takes writes. */
export async function dataDirProblem(dataDir: string): Promise<string | null> {
  const probe = `${dataDir}/.fastmta-write-probe`;
  try {
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
    return null;
  } catch (error) {
    return `data_dir "${dataDir}" does not take writes: ${(error as Error).message}`;
  }
}
