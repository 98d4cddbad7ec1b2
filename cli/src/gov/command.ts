// `x0 gov`: governance from the command line. Proposals and votes go to the planners (x0.gov.*); status and verify read
// x0_gov by message gets only and recount every proposal here, from the signed votes and the pinned genesis.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CHOICES,
  govProposeEndpoint,
  govVoteEndpoint,
  type MemberSet,
  MemberSet as MemberSetSchema,
  ProposeRequest,
  type SignedVote,
  StoredReader,
  type Tally,
  VoteMessage,
  VoteReceipt,
} from "@x0/shared";
import {
  type Count,
  GovStore,
  governanceDomain,
  loadGenesis,
  MemberChain,
  memberListProblem,
  memberSetTypedData,
  readOnlyGovBucket,
  recount,
  verifyGenesis,
  voteTypedData,
  ZERO_HASH,
} from "@x0/shared/governance";
import { hashTypedData } from "viem";
import { UsageError } from "../errors.ts";
import { connectCli, NATS_FLAGS, type NatsFlags } from "../nats-client.ts";
import { stateDirOf } from "../paths.ts";
import { type CommandSpec, type FlagSpec, type FlagSpecs, parseCommandArgs } from "../spec.ts";
import type { Output } from "../status/command.ts";
import { loadMemberKey } from "./keys.ts";
import { renderMembers, renderProposal, renderProposals, renderVerify } from "./render.ts";

const JSON_FLAG = { json: { type: "boolean", help: "print JSON" } } as const satisfies FlagSpecs;
/** What every command that reads x0_gov takes: the pinned genesis, NATS, --json. */
const READ_FLAGS = {
  genesis: {
    type: "string",
    value: "file",
    path: true,
    help: "the pinned genesis member set (default X0_GOV_MEMBERS, else <state dir>/gov/members.json)",
  },
  ...NATS_FLAGS,
  ...JSON_FLAG,
} as const satisfies FlagSpecs;
const MEMBER = {
  type: "string",
  multiple: true,
  value: "address:weight[:name]",
  help: "a member: its 0x address, its weight (1..1e9) and a name",
} as const satisfies FlagSpec;
const TITLE = { type: "string", value: "text", help: "the proposal's title" } as const satisfies FlagSpec;
const SIGNER = {
  key: { type: "string", value: "file", path: true, help: "the member's key: a hex private key or a JSON keystore, in a file (0600)" },
  "password-file": { type: "string", value: "file", path: true, help: "the keystore's password, in a file (0600)" },
} as const satisfies FlagSpecs;

/** `x0 gov` in the command table. */
export const GOV_SPEC = {
  name: "gov",
  summary: "governance: members' EIP-712 signed votes on plans and changes",
  description: `Governance: plans whose policy says approval: vote, member set and policy changes are decided by
members' EIP-712 signed votes (quadratic or weighted tally). Every command that reads recounts from the signed votes
itself.

Keys are a hex private key or a JSON keystore in a file readable by its owner only (chmod 600); a keystore's password
comes from --password-file (0600). Neither is ever given on the command line.`,
  commands: [
    {
      name: "propose",
      summary: "open a proposal: a new member set, or a new policy",
      commands: [
        {
          name: "members",
          summary: "propose the whole new member set",
          flags: { member: MEMBER, title: TITLE, ...READ_FLAGS },
        },
        {
          name: "policy",
          summary: "propose a new policy file",
          flags: { file: { type: "string", value: "policy.yaml", path: true, help: "the new policy" }, title: TITLE, ...READ_FLAGS },
        },
      ],
    },
    {
      name: "vote",
      summary: "sign and cast a vote on a proposal",
      args: "<proposal-id>",
      flags: {
        ...SIGNER,
        choice: { type: "string", choices: ["yes", "no", "abstain"], help: "the vote" },
        reason: { type: "string", value: "text", help: "why, kept with the vote" },
        ...READ_FLAGS,
      },
    },
    {
      name: "status",
      summary: "proposals (open first), or one with its votes and recount",
      args: "[<proposal-id>]",
      flags: READ_FLAGS,
    },
    {
      name: "verify",
      summary: "recount a proposal: every vote's signature, the member set chain, the tally",
      description: "Recounts a proposal: every vote's signature, the member set chain, the tally. Exits 1 if the tally disagrees.",
      args: "<proposal-id>",
      flags: READ_FLAGS,
    },
    {
      name: "members",
      summary: "the current member set, verified from the genesis",
      runsAlone: true,
      flags: READ_FLAGS,
      commands: [
        {
          name: "init",
          summary: "write an unsigned genesis member set",
          description: "Writes an unsigned genesis member set; every member then signs it with x0 gov members sign.",
          flags: {
            space: { type: "string", value: "name", help: "the governance space's name" },
            "chain-id": { type: "string", value: "n", help: "the EIP-712 domain's chain id" },
            member: MEMBER,
            out: { type: "string", value: "file", path: true, help: "where to write the genesis" },
            ...JSON_FLAG,
          },
        },
        {
          name: "sign",
          summary: "add your signature to a genesis (each member signs)",
          args: "<file>",
          flags: { ...SIGNER, ...JSON_FLAG },
        },
      ],
    },
  ],
} as const satisfies CommandSpec;

interface Values extends NatsFlags {
  member?: string[];
  title?: string;
  file?: string;
  key?: string;
  choice?: string;
  reason?: string;
  "password-file"?: string;
  space?: string;
  "chain-id"?: string;
  out?: string;
  genesis?: string;
  json?: boolean;
}

/** Parses `address:weight[:name]`. */
export function parseMember(text: string): MemberSet["members"][number] {
  const [address, weight, ...name] = text.split(":");
  const parsed = MemberSetSchema.shape.members.element.safeParse({ address, weight: Number(weight), name: name.join(":") });
  if (!parsed.success) throw new UsageError(`--member ${JSON.stringify(text)}: expected <0x address>:<weight 1..1e9>[:<name>]`);
  return parsed.data;
}

/** The choice number of `yes`, `no` or `abstain`. */
export function parseChoice(text: string | undefined): 1 | 2 | 3 {
  const choice = CHOICES[text as keyof typeof CHOICES];
  if (choice === undefined) throw new UsageError(`--choice must be yes, no or abstain, not ${JSON.stringify(text)}`);
  return choice;
}

/** Runs `x0 gov`; 0 on success, 1 when a vote is refused or a recount disagrees with the tally. */
export async function runGov(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs<Values>(GOV_SPEC, argv);
  const [command, ...rest] = positionals;
  if (command === undefined) throw new UsageError("gov needs a command: propose, vote, status, verify or members");
  const print = (json: unknown, text: string) => output.out(values.json ? JSON.stringify(json, null, 2) : text);
  if (command === "members" && rest[0] === "init") return membersInit(values, print);
  if (command === "members" && rest[0] === "sign") return membersSign(rest[1], values, print);
  if (!["propose", "vote", "status", "verify", "members"].includes(command)) throw new UsageError(`unknown gov command ${JSON.stringify(command)}`);
  // Checked before connecting: a bad command line never reaches NATS.
  const request = command === "propose" ? proposeRequest(rest[0], values) : undefined;
  const choice = command === "vote" ? parseChoice(values.choice) : undefined;
  if ((command === "vote" || command === "verify") && rest[0] === undefined) throw new UsageError(`${command} needs a proposal id`);
  if (command === "vote" && values.key === undefined) throw new UsageError("vote needs --key <file>");

  const nc = await connectCli(values, env);
  try {
    const reader = await StoredReader.open(nc);
    const store = new GovStore(readOnlyGovBucket(reader));
    const genesis = await pinnedGenesis(values.genesis, env, store, output);
    const chain = new MemberChain(genesis, store);
    if (command === "propose") {
      const reply = await nc.request(govProposeEndpoint.subject, JSON.stringify(request), { timeout: 10_000 });
      const proposal = govProposeEndpoint.response.parse(replyJson(reply, govProposeEndpoint.subject));
      print(proposal, `opened ${proposal.kind} proposal ${proposal.proposal_id}\n${renderProposal(proposal, undefined, undefined)}`);
      return 0;
    }
    if (command === "members") {
      const latest = Math.max(1, await store.latestMembersVersion());
      const set = await chain.resolve(latest);
      print(set, renderMembers(set));
      return 0;
    }
    if (command === "status" && rest[0] === undefined) {
      const proposals = (await Promise.all((await store.proposalIds()).map((id) => store.proposal(id)))).flatMap((proposal) => (proposal ? [proposal] : []));
      const tallies = new Map<string, Tally>();
      for (const proposal of proposals) {
        const tally = (await store.tallyRecord(proposal.proposal_id))?.value;
        if (tally) tallies.set(proposal.proposal_id, tally);
      }
      print(
        proposals.map((proposal) => ({ proposal, tally: tallies.get(proposal.proposal_id) ?? null })),
        renderProposals(proposals, tallies),
      );
      return 0;
    }
    const id = rest[0] as string;
    const proposal = await store.proposal(id);
    if (!proposal) throw new UsageError(`no proposal ${id} in x0_gov`);
    if (command === "vote") {
      const account = await loadMemberKey(values.key as string, values["password-file"]);
      const message = VoteMessage.parse({
        from: account.address,
        space: proposal.space,
        timestamp: Math.floor(Date.now() / 1000),
        proposal: proposal.hash,
        choice,
        reason: values.reason ?? "",
        app: "x0-cli",
        metadata: "{}",
      });
      const signature = await account.signTypedData(voteTypedData(message, governanceDomain(genesis.space, genesis.chain_id)));
      const vote: SignedVote = { v: 1, proposal_id: id, message, signature };
      const reply = await nc.request(govVoteEndpoint.subject, JSON.stringify(vote), { timeout: 10_000 });
      const receipt = VoteReceipt.parse(replyJson(reply, govVoteEndpoint.subject));
      print(
        receipt,
        receipt.accepted
          ? `vote ${values.choice} by ${account.address} ${receipt.reason} (power ${receipt.power.toFixed(3)}); proposal ${receipt.state}`
          : `vote refused: ${receipt.reason}`,
      );
      return receipt.accepted ? 0 : 1;
    }
    const set = await chain.resolve(proposal.members_version);
    const [votes, tally] = await Promise.all([store.votes(id), store.tallyRecord(id)]);
    const count = await recount(proposal, set, votes, { now: Date.now(), digester: chain.digester });
    const agrees = tally === undefined ? count.state === "open" || undefined : tally.value.result === count.state;
    if (command === "status") {
      print({ proposal, recount: summary(count), tally: tally?.value ?? null }, renderProposal(proposal, tally?.value, count));
      return 0;
    }
    print(
      {
        proposal,
        domain: governanceDomain(genesis.space, genesis.chain_id),
        members_version: set.version,
        votes: [
          ...count.counted.map((counted) => ({ vote: counted.vote, counted: true, power: counted.power })),
          ...count.refused.map((refused) => ({ vote: refused.vote, counted: false, reason: refused.reason })),
        ],
        recount: summary(count),
        tally: tally?.value ?? null,
        agrees: agrees ?? null,
      },
      renderVerify(proposal, count, tally?.value, chain.digester),
    );
    return agrees === false ? 1 : 0;
  } finally {
    await nc.close();
  }
}

function summary(count: Count) {
  return { state: count.state, reason: count.reason, decided: count.decided ?? null, totals: count.totals };
}

function replyJson(reply: { data: Uint8Array; headers?: { get(key: string): string } | undefined; json(): unknown }, subject: string): unknown {
  const code = reply.headers?.get("Nats-Service-Error-Code");
  if (code) throw new UsageError(`${subject} answered ${code}: ${reply.headers?.get("Nats-Service-Error")}`);
  return reply.json();
}

function proposeRequest(kind: string | undefined, values: Values): ProposeRequest {
  if (values.title === undefined) throw new UsageError("propose needs --title <text>");
  if (kind === "members") {
    const members = (values.member ?? []).map(parseMember);
    if (members.length === 0) throw new UsageError("propose members needs the whole new member set: --member <address>:<weight>[:<name>] ...");
    const problem = memberListProblem(members);
    if (problem) throw new UsageError(problem);
    return ProposeRequest.parse({ kind, title: values.title, members });
  }
  if (kind === "policy") {
    if (values.file === undefined) throw new UsageError("propose policy needs --file <policy.yaml>");
    return ProposeRequest.parse({ kind, title: values.title, policy: readFileSync(values.file, "utf8") });
  }
  throw new UsageError(`propose members or propose policy, not ${JSON.stringify(kind)}`);
}

/** The genesis this operator pins: --genesis, X0_GOV_MEMBERS, the stack's, else x0_gov's copy (said to be unpinned). */
async function pinnedGenesis(flag: string | undefined, env: Record<string, string | undefined>, store: GovStore, output: Output): Promise<MemberSet> {
  const stackGenesis = join(stateDirOf(env), "gov", "members.json");
  const path = flag ?? (env.X0_GOV_MEMBERS || undefined) ?? (existsSync(stackGenesis) ? stackGenesis : undefined);
  if (path) return loadGenesis(path);
  const stored = await store.memberSet(1);
  if (!stored) throw new UsageError("no genesis member set: give --genesis <file> or X0_GOV_MEMBERS (governance may be off: x0_gov holds none)");
  output.err("x0 gov: warning: the genesis is x0_gov's own copy, not a file you pinned (--genesis): its signatures are checked, its authority is not");
  await verifyGenesis(stored);
  return stored;
}

function membersInit(values: Values, print: (json: unknown, text: string) => void): number {
  const members = (values.member ?? []).map(parseMember);
  if (values.space === undefined || values["chain-id"] === undefined || values.out === undefined || members.length === 0) {
    throw new UsageError("members init needs --space, --chain-id, --out and at least one --member");
  }
  const set = MemberSetSchema.safeParse({
    v: 1,
    space: values.space,
    chain_id: Number(values["chain-id"]),
    version: 1,
    members,
    previous: ZERO_HASH,
    proposal: ZERO_HASH,
    signatures: [],
  });
  if (!set.success) throw new UsageError(set.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; "));
  const problem = memberListProblem(set.data.members);
  if (problem) throw new UsageError(problem);
  writeFileSync(values.out, `${JSON.stringify(set.data, null, 2)}\n`);
  print(set.data, `wrote the unsigned genesis ${values.out}: every member now runs x0 gov members sign ${values.out} --key <their key file>`);
  return 0;
}

async function membersSign(file: string | undefined, values: Values, print: (json: unknown, text: string) => void): Promise<number> {
  if (file === undefined || values.key === undefined) throw new UsageError("members sign needs the genesis file and --key <file>");
  const set = MemberSetSchema.parse(JSON.parse(readFileSync(file, "utf8")));
  const account = await loadMemberKey(values.key, values["password-file"]);
  if (!set.members.some((member) => member.address.toLowerCase() === account.address.toLowerCase())) {
    throw new UsageError(`${account.address} is not a member listed in ${file}`);
  }
  const signature = await account.signTypedData(memberSetTypedData(set));
  const signatures = [
    ...set.signatures.filter((entry) => entry.address.toLowerCase() !== account.address.toLowerCase()),
    { address: account.address, signature },
  ];
  const signed = { ...set, signatures };
  writeFileSync(file, `${JSON.stringify(signed, null, 2)}\n`);
  const missing = set.members.length - signatures.length;
  print(
    { address: account.address, digest: hashTypedData(memberSetTypedData(set)), missing },
    `signed ${file} as ${account.address}; ${missing === 0 ? "every member has signed" : `${missing} member(s) still to sign`}`,
  );
  return 0;
}
