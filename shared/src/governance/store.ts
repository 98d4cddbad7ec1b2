// Governance records in the x0_gov bucket: member set versions, proposals (and a hash index), votes and tallies. Each
// record but a replaceable vote is written once (create), so two planners closing the same proposal store one tally.
import { z } from "zod";
import { AdoptedPolicy, MemberSet, Proposal, StoredVote, Tally } from "../contracts/governance.ts";
import { GovernanceError } from "./errors.ts";
import type { MemberChainSource } from "./members.ts";

/** The part of a NATS KV bucket the store uses. */
export interface GovBucket {
  get(key: string): Promise<{ value: Uint8Array; revision: number; operation: string } | null>;
  create(key: string, data: string): Promise<number>;
  put(key: string, data: string): Promise<number>;
  keys(filter?: string): Promise<AsyncIterable<string>>;
}

/** The keys of the x0_gov bucket. */
export const govKeys = {
  memberSet: (version: number) => `members.v${version}`,
  proposal: (id: string) => `proposal.${id}`,
  proposalHash: (hash: string) => `hash.${hash}`,
  vote: (id: string, address: string) => `vote.${id}.${address.toLowerCase()}`,
  votes: (id: string) => `vote.${id}.*`,
  tally: (id: string) => `tally.${id}`,
  /** The policy the last passed policy proposal adopted. */
  policy: "policy.current",
} as const;

const decoder = new TextDecoder();

/** A record was already written (a second tally, a second vote where votes cannot be replaced). */
export class GovConflict extends GovernanceError {}

/** Reads and writes governance records. */
export class GovStore implements MemberChainSource {
  constructor(readonly bucket: GovBucket) {}

  async #read<S extends z.ZodType>(key: string, schema: S): Promise<{ value: z.output<S>; raw: unknown; revision: number } | undefined> {
    const entry = await this.bucket.get(key);
    if (entry?.operation !== "PUT" || entry.value.length === 0) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(entry.value));
    } catch (error) {
      throw new GovernanceError(`x0_gov ${key} is not JSON`, { cause: error });
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new GovernanceError(`x0_gov ${key} is invalid: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
    return { value: parsed.data, raw, revision: entry.revision };
  }

  async #create(key: string, value: unknown): Promise<number> {
    try {
      return await this.bucket.create(key, JSON.stringify(value));
    } catch (error) {
      if (/wrong last sequence|exists/i.test((error as Error).message)) throw new GovConflict(`x0_gov ${key} was already written`, { cause: error });
      throw error;
    }
  }

  /** A stored member set version. */
  async memberSet(version: number): Promise<MemberSet | undefined> {
    return (await this.#read(govKeys.memberSet(version), MemberSet))?.value;
  }

  /** The highest member set version stored (0 when none). */
  async latestMembersVersion(): Promise<number> {
    let latest = 0;
    for await (const key of await this.bucket.keys("members.*")) {
      const version = Number(key.slice("members.v".length));
      if (Number.isInteger(version) && version > latest) latest = version;
    }
    return latest;
  }

  /** Stores a member set version once. */
  async putMemberSet(set: MemberSet): Promise<void> {
    await this.#create(govKeys.memberSet(set.version), set);
  }

  /** A proposal, with its JSON as stored (for its signature). */
  async proposalRecord(id: string): Promise<{ value: Proposal; raw: unknown } | undefined> {
    return this.#read(govKeys.proposal(id), Proposal);
  }

  /** A proposal. */
  async proposal(id: string): Promise<Proposal | undefined> {
    return (await this.proposalRecord(id))?.value;
  }

  /** The proposal whose hash is `hash`. */
  async proposalByHash(hash: string): Promise<Proposal | undefined> {
    const entry = await this.bucket.get(govKeys.proposalHash(hash));
    if (entry?.operation !== "PUT") return undefined;
    return this.proposal(decoder.decode(entry.value));
  }

  /** Stores a new proposal and its hash index. */
  async createProposal(proposal: Proposal): Promise<void> {
    await this.#create(govKeys.proposal(proposal.proposal_id), proposal);
    await this.bucket.put(govKeys.proposalHash(proposal.hash), proposal.proposal_id);
  }

  /** Ids of every stored proposal. */
  async proposalIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const key of await this.bucket.keys("proposal.*")) ids.push(key.slice("proposal.".length));
    return ids;
  }

  /** Ids of the proposals that have a tally (closed). */
  async closedIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    for await (const key of await this.bucket.keys("tally.*")) ids.add(key.slice("tally.".length));
    return ids;
  }

  /** Every stored vote of a proposal (read in parallel). */
  async votes(id: string): Promise<StoredVote[]> {
    const keys: string[] = [];
    for await (const key of await this.bucket.keys(govKeys.votes(id))) keys.push(key);
    const records = await Promise.all(keys.map((key) => this.#read(key, StoredVote)));
    return records.flatMap((record) => (record ? [record.value] : []));
  }

  /** A member's stored vote on a proposal. */
  async vote(id: string, address: string): Promise<StoredVote | undefined> {
    return (await this.#read(govKeys.vote(id, address), StoredVote))?.value;
  }

  /** Stores a vote: replacing the member's earlier vote only when `replace`; throws GovConflict otherwise. */
  async putVote(vote: StoredVote, replace: boolean): Promise<void> {
    const key = govKeys.vote(vote.proposal_id, vote.message.from);
    if (replace) await this.bucket.put(key, JSON.stringify(vote));
    else await this.#create(key, vote);
  }

  /** A proposal's tally, with its JSON as stored. */
  async tallyRecord(id: string): Promise<{ value: Tally; raw: unknown } | undefined> {
    return this.#read(govKeys.tally(id), Tally);
  }

  /** Stores a proposal's tally once; throws GovConflict when it was closed already. */
  async createTally(tally: Tally): Promise<void> {
    await this.#create(govKeys.tally(tally.proposal_id), tally);
  }

  /** The adopted policy, if a policy proposal passed. */
  async adoptedPolicy(): Promise<AdoptedPolicy | undefined> {
    return (await this.#read(govKeys.policy, AdoptedPolicy))?.value;
  }

  /** Records an adopted policy. */
  async adoptPolicy(policy: AdoptedPolicy): Promise<void> {
    await this.bucket.put(govKeys.policy, JSON.stringify(policy));
  }
}

/** The part of a read-only reader a {@link readOnlyGovBucket} uses (StoredReader: message gets only). */
export interface GovReader {
  key(bucket: string, key: string): Promise<{ value: Uint8Array; revision: number } | undefined>;
  bucket(bucket: string, pattern?: string): Promise<Map<string, unknown>>;
}

/** x0_gov through message gets only, for identities that may read but not create consumers (voters, observers). */
export function readOnlyGovBucket(reader: GovReader, bucket = "x0_gov"): GovBucket {
  const refuse = async (): Promise<number> => {
    throw new GovernanceError(`${bucket} is opened read-only here`);
  };
  return {
    get: async (key) => {
      const value = await reader.key(bucket, key);
      return value ? { value: value.value, revision: value.revision, operation: "PUT" } : null;
    },
    keys: async (filter) => {
      const keys = [...(await reader.bucket(bucket, filter ?? ">")).keys()];
      return (async function* () {
        yield* keys;
      })();
    },
    create: refuse,
    put: refuse,
  };
}
