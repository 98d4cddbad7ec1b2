import { describe, expect, test } from "bun:test";
import { verifyTypedData as ethersVerifyTypedData, TypedDataEncoder, Wallet } from "ethers";
import { domainSeparator, hashStruct, hashTypedData, keccak256, stringToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { VoteMessage } from "../contracts/governance.ts";
import {
  governanceDomain,
  MEMBER_SET_TYPES,
  memberSetHash,
  memberSetTypedData,
  proposalHash,
  recoverSigner,
  VOTE_TYPES,
  VoteDigester,
  voteTypedData,
  ZERO_HASH,
} from "./typed-data.ts";

// The example of EIP-712 itself (eips.ethereum.org/EIPS/eip-712, assets/eip-712/Example.js): Cow mails Bob.
const mail = {
  domain: { name: "Ether Mail", version: "1", chainId: 1, verifyingContract: "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC" },
  types: {
    Person: [
      { name: "name", type: "string" },
      { name: "wallet", type: "address" },
    ],
    Mail: [
      { name: "from", type: "Person" },
      { name: "to", type: "Person" },
      { name: "contents", type: "string" },
    ],
  },
  primaryType: "Mail",
  message: {
    from: { name: "Cow", wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
    to: { name: "Bob", wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB" },
    contents: "Hello, Bob!",
  },
} as const;

const domain = governanceDomain("mesh.example", 1);
const vote = (from: string, overrides: Partial<VoteMessage> = {}): VoteMessage => ({
  from,
  space: "mesh.example",
  timestamp: 1_765_000_000,
  proposal: keccak256(stringToBytes("a proposal")),
  choice: 1,
  reason: "quarantine it",
  app: "x0",
  metadata: "{}",
  ...overrides,
});

describe("governance typed data", () => {
  test("EIP-712's Mail example: the struct hash, domain separator, digest and signature the specification gives", async () => {
    expect(hashStruct({ types: mail.types, primaryType: "Mail", data: mail.message })).toBe(
      "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e",
    );
    expect(domainSeparator({ domain: mail.domain })).toBe("0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");
    expect(hashTypedData(mail)).toBe("0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
    // The specification's key for Cow is keccak256("cow"); its signature recovers to Cow's wallet.
    const cow = privateKeyToAccount(keccak256(stringToBytes("cow")));
    expect(cow.address).toBe(mail.message.from.wallet);
    const signature = await cow.signTypedData(mail);
    expect(signature.slice(2, 66)).toBe("4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d");
    expect(signature.slice(66, 130)).toBe("07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562");
    expect(signature.slice(130)).toBe("1c"); // v = 28
    expect(await recoverSigner(hashTypedData(mail), signature)).toBe(cow.address.toLowerCase());
  });

  test("the vote digest is the standard EIP-712 digest (viem's and ethers' hashTypedData agree)", () => {
    const account = privateKeyToAccount(keccak256(stringToBytes("member one")));
    const message = vote(account.address);
    const typed = voteTypedData(message, domain);
    const digest = new VoteDigester(domain).digest(message);
    expect(digest).toBe(hashTypedData(typed));
    expect(digest).toBe(TypedDataEncoder.hash(ethersDomain(), { Vote: [...VOTE_TYPES.Vote] }, { ...message }) as `0x${string}`);
  });

  test("a vote signed with ethers verifies here, and one signed here (viem) verifies with ethers", async () => {
    const wallet = new Wallet(keccak256(stringToBytes("ethers member")));
    const message = vote(wallet.address, { choice: 2, reason: "not yet" });
    const byEthers = await wallet.signTypedData(ethersDomain(), { Vote: [...VOTE_TYPES.Vote] }, message);
    expect(await recoverSigner(new VoteDigester(domain).digest(message), byEthers)).toBe(wallet.address.toLowerCase());

    const account = privateKeyToAccount(keccak256(stringToBytes("viem member")));
    const ours = vote(account.address, { choice: 3 });
    const byViem = await account.signTypedData(voteTypedData(ours, domain));
    expect(ethersVerifyTypedData(ethersDomain(), { Vote: [...VOTE_TYPES.Vote] }, ours, byViem)).toBe(account.address);
  });

  test("another chain id or space gives another digest, so a vote signed there recovers to someone else", async () => {
    const account = privateKeyToAccount(keccak256(stringToBytes("member two")));
    const message = vote(account.address);
    const elsewhere = await account.signTypedData(voteTypedData(message, governanceDomain("mesh.example", 5)));
    expect(await recoverSigner(new VoteDigester(domain).digest(message), elsewhere)).not.toBe(account.address.toLowerCase());
    expect(new VoteDigester(governanceDomain("other.mesh", 1)).digest(message)).not.toBe(new VoteDigester(domain).digest(message));
  });

  test("a member set's hash covers every member; its typed data is what ethers signs too", async () => {
    const wallet = new Wallet(keccak256(stringToBytes("genesis member")));
    const set = {
      space: "mesh.example",
      chain_id: 1,
      version: 1,
      members: [{ address: wallet.address, weight: 4, name: "alice" }],
      previous: ZERO_HASH,
      proposal: ZERO_HASH,
    };
    const typed = memberSetTypedData(set);
    const signature = await wallet.signTypedData(
      ethersDomain(),
      { MemberSet: [...MEMBER_SET_TYPES.MemberSet], Member: [...MEMBER_SET_TYPES.Member] },
      typed.message,
    );
    expect(await recoverSigner(hashTypedData(typed), signature)).toBe(wallet.address.toLowerCase());
    expect(memberSetHash({ ...set, members: [{ ...set.members[0], weight: 5 } as (typeof set.members)[number]] })).not.toBe(memberSetHash(set));
  });

  test("a proposal's hash changes with anything it binds", () => {
    const proposal = {
      space: "mesh.example",
      proposal_id: "5b2f3a52-4e8f-4b55-9a4c-0d7f43a6c2e1",
      kind: "plan" as const,
      title: "quarantine n3",
      content: keccak256(stringToBytes("plan")),
      members_version: 1,
      created_at: 1_765_000_000_000,
      deadline_at: 1_765_000_060_000,
      quorum_bps: 5000,
      threshold_bps: 5000,
      tally: "quadratic" as const,
      revote: false,
    };
    const hash = proposalHash(proposal);
    expect(proposalHash({ ...proposal, content: keccak256(stringToBytes("another plan")) })).not.toBe(hash);
    expect(proposalHash({ ...proposal, deadline_at: proposal.deadline_at + 1 })).not.toBe(hash);
    expect(proposalHash({ ...proposal, tally: "weighted" })).not.toBe(hash);
  });
});

function ethersDomain() {
  return { name: domain.name, version: domain.version, chainId: domain.chainId, salt: domain.salt };
}
