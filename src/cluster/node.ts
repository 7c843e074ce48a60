// This process as one node of a cluster (cluster.natsUrl set; server.ts
// imports this file only then). It ties the pieces together:
//
//   heartbeats ──▶ Directory ──▶ RemoteZoneHost up/down, /readyz, sessions of a gone zone end
//   session layer ──send──▶ RemoteZoneHost ──Outbox──▶ mmo.z.<owner>.<me>   (Kind.toZone)
//   mmo.z.<me>.<gw> ──▶ Proxies ──▶ local zone ring (proxy id)              (owner side)
//   local zone output for a proxy ──Outbox──▶ mmo.z.<gw>.<me>               (Kind.fromZone)
//   mmo.z.<me>.<owner> ──▶ SessionService.record(zone, ...)                 (gateway side)
//   global chat a local zone put in a remote zone's mailbox ──▶ owner's zone mailbox (Kind.mail)
//   whisper to a name not online here ──▶ mmo.whisper, answers on mmo.wr.<me>
//   login of an account ──▶ mmo.acct (others end and save its session), answers on mmo.ar.<me>
//
// The session layer does not know the cluster exists: a zone on another node
// is a zone host like any other, and its records come back through the same
// SessionService.record. Handoff through a portal into another node's zone
// is therefore the local handoff (fence, bounce, held inputs) with some
// records crossing NATS; every record from one node to another travels in
// one numbered, acknowledged stream (stream.ts: core NATS may drop messages,
// the stream resends them and delivers in order), so the fence still follows
// every input sent before it.

import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Readiness } from '../net/readiness.js';
import type { SessionService } from '../session/service.js';
import { SessionState, type Session } from '../session/session.js';
import type { ZoneDef } from '../world/index.js';
import type { ZoneMemoryHandles } from '../zone/shared.js';
import { ZoneHost, ZoneState, type ZoneEvents, type ZoneSet } from '../zone/host.js';
import { FromZone, ToZone, JoinKind, JoinRecord, JoinedRecord, JoinFailedRecord } from '../zone/records.js';
import { MpscRing, type MpscProducer, type RecordHandler } from '../ring/index.js';
import { PullCounter, PullGauge } from '../metrics/hot.js';
import { sendJson, type Route } from '../net/http.js';
import { NatsLink } from './link.js';
import { Directory, encodeHeartbeat, parseHeartbeat } from './directory.js';
import { Kind, WhoRecord, readBatch, zoneSubject, HEARTBEAT_SUBJECT, WHISPER_SUBJECT, whisperReplySubject, type BatchHandler } from './wire.js';
import { PeerStreams } from './stream.js';
import { linkFaultRoute, registerStreamMetrics, streamStatus } from './stream-ops.js';
import { RemoteZoneHost, type RemoteSink } from './remote-zone.js';
import { decodeJson, encodeJson } from './json-message.js';
import { Proxies, PROXY_BIT, type Proxy } from './proxies.js';
import { ResumeLookup, RESUME_SUBJECT, resumeReplySubject } from './resume-lookup.js';
import { AccountTakeover, ACCOUNT_SUBJECT, accountReplySubject } from './account-takeover.js';
import type { Persistence } from '../persist/persistence.js';
import { ClaimKeeper, registerClaimMetrics } from './account-claim.js';
import { snapshotOf } from '../session/player.js';

/** How often the mailboxes of remote zones (global chat from local zones) are forwarded. */
const MAIL_POLL_MS = 20;

interface PendingWhisper {
  session: Session;
  to: string;
  text: string;
  seq: number;
  waiting: number;
  timer: ReturnType<typeof setTimeout>;
}

interface WhisperAsk {
  id: number;
  node: string;
  to: string;
  fromEntity: number;
  fromName: string;
  text: string;
}

/** The WebSocket URL clients reach this node at: cluster.publicUrl, else ws://<net.host>:<port><net.wsPath> (0.0.0.0 or :: as the host name). */
export function publicUrlOf(config: Config, port: number): string {
  if (config.cluster.publicUrl) return config.cluster.publicUrl;
  const h = config.net.host === '0.0.0.0' || config.net.host === '::' ? hostname() : config.net.host;
  return `ws://${h.includes(':') ? `[${h}]` : h}:${port}${config.net.wsPath}`;
}

/** This node's id: cluster.nodeId, else a non-default server.name, else host name and pid (NATS-subject safe). */
export function nodeIdOf(config: Config): string {
  const raw = config.cluster.nodeId || (config.server.name !== 'mmo-server' ? config.server.name : `${hostname()}-${process.pid}`);
  return raw.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

export class ClusterNode implements RemoteSink {
  readonly directory: Directory;
  readonly proxies = new Proxies();
  private readonly owned: Set<number>;
  private readonly boot = Date.now();
  private seq = 0;
  private sessions: SessionService | null = null;
  private persistence: Persistence | null = null;
  /** Owner side: who each proxy's player is (Kind.who), to save it when its gateway node dies. */
  private readonly who = new WeakMap<Proxy, { player: number; account: number }>();
  /** Owner side: proxies of gone gateway nodes taken out of their zones, saved from the zone's answer. */
  private readonly orphans = new Set<Proxy>();
  /** Accounts of those, from the moment their gateway is gone until their final state is in the write queue. */
  private readonly orphanAccounts = new Map<number, number>();
  private readonly whoBuf = new Uint8Array(WhoRecord.bytes);
  /** Players of gone gateway nodes saved here with their zone's final state. */
  orphanSaves = 0;
  private zones: ZoneSet | null = null;
  /** The reliable, ordered record stream with each peer (stream.ts). */
  readonly streams: PeerStreams;
  private hbTimer: ReturnType<typeof setInterval> | null = null;
  private mailTimer: ReturnType<typeof setInterval> | null = null;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  /** Consumers of the remote zones' mailboxes here (local zones produce into them). */
  private readonly mailIn: Array<{ host: ZoneHost; ring: MpscRing }> = [];
  /** Producers into local zones' mailboxes, for mail from other nodes (one slot of a zone not run here). */
  private readonly mailOut = new Map<number, MpscProducer>();
  private mailHost: ZoneHost | null = null;
  private readonly mailDrain: RecordHandler = (type, _session, data, offset, length) => {
    const h = this.mailHost!;
    const owner = this.directory.ownerOf(h.def.id);
    if (owner) this.write(owner, Kind.mail, type, h.def.id, 0, data, offset, length);
  };
  private elu = performance.eventLoopUtilization();
  private readonly pendingWhispers = new Map<number, PendingWhisper>();
  private whisperSeq = 0;
  private stopped = false;
  /** Public WebSocket URL, announced in heartbeats once listening (see listening()). */
  url = '';
  readonly resumes: ResumeLookup;
  readonly accounts: AccountTakeover;
  /** Per-account claims in the shared database (account-claim.ts); set by start(). */
  claims: ClaimKeeper | null = null;
  /** Records received for a zone that is not local here, or for a proxy that is gone (counted, dropped). */
  strayRecords = 0;
  malformedBatches = 0;

  private constructor(
    readonly id: string,
    readonly link: NatsLink,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.owned = new Set(config.cluster.ownedZones);
    this.streams = new PeerStreams({ self: id, transport: link, deliver: (from, data) => this.onBatch(from, data), onReset: (peer, why) => this.streamReset(peer, why) });
    this.directory = new Directory(id, config.cluster.nodeTimeoutMs, (node, alive) => this.nodeChanged(node, alive));
    this.resumes = new ResumeLookup(id, link, this.directory, config.cluster.requestTimeoutMs, (session, token) => this.holdsSession(session, token));
    this.accounts = new AccountTakeover(id, link, this.directory, config.cluster.nodeTimeoutMs, { letGo: (account, by, within) => this.letGo(account, by, within).then((saved) => (saved && this.claims ? this.claims.releaseIfFree(account).then(() => true) : saved)) }, (o, m) => this.log.warn(o, m));
  }

  /** The gateway listens on `port`: from now on the heartbeats say where clients reach this node. */
  listening(port: number): void {
    this.url = publicUrlOf(this.config, port);
    this.log.info({ url: this.url }, 'cluster node public URL');
    this.beat();
  }

  /** Whether a resume with `token` would be accepted here (checked, not spent). */
  private holdsSession(id: number, token: Uint8Array): boolean {
    const s = this.sessions?.registry.get(id);
    if (!s || s.state === SessionState.closed || (s.state === SessionState.zombie && s.zombieUntil <= performance.now())) return false;
    const check = s.checkToken(token);
    return check === 'ok' || check === 'retry';
  }

  /** Connects to NATS (MMO_ERR_CLUSTER_NATS when it cannot be reached) and starts listening. Cold path. */
  static async start(config: Config, log: Logger, registry: Registry): Promise<ClusterNode> {
    const id = nodeIdOf(config);
    const link = await NatsLink.connect({ url: config.cluster.natsUrl, name: id, log, timeoutMs: Math.max(2000, config.cluster.requestTimeoutMs) });
    const node = new ClusterNode(id, link, config, log.child({ node: id }));
    node.claims = await ClaimKeeper.open(config, log.child({ node: id, component: 'account-claims' }), {
      holds: (account) => node.persistence?.holdsAccount(account) ?? false,
      leaving: (account) => node.persistence?.queue.holdsUnreleased(account) === true && !node.sessions?.registry.findByIdentity({ accountId: account, name: '', guest: false }),
      lost: (account) => node.sessions?.takenOverElsewhere(account, 'unknown (claim lost)'),
    }).catch(async (err: unknown) => {
      await link.close();
      throw err;
    });
    node.listen();
    node.registerMetrics(registry);
    await link.flush();
    log.info({ node: id, owned: config.cluster.ownedZones, nats: config.cluster.natsUrl }, 'cluster node connected');
    return node;
  }

  /** ZoneSetOptions.makeHost: a worker for the zones this node owns, a stand-in for the others. */
  readonly makeHost = (index: number, def: ZoneDef, memory: ZoneMemoryHandles, set: ZoneSet): ZoneHost =>
    this.owned.has(def.id) ? new ZoneHost(index, def, memory, set) : new RemoteZoneHost(index, def, memory, set, this);

  /**
   * Joins the session layer and the zones (before zones.start): returns the
   * ZoneEvents the zone set is started with (proxies' records go to their
   * gateway nodes, the rest to the session layer).
   */
  attach(sessions: SessionService, zones: ZoneSet, readiness: Readiness, persistence: Persistence | null = null): ZoneEvents {
    this.sessions = sessions;
    this.zones = zones;
    this.persistence = persistence;
    sessions.beforeLogin = (account) =>
      this.accounts
        .ask(account)
        .then((no) => no ?? this.orphanSaved(account))
        .then((no) => no ?? this.claims?.take(account) ?? null);
    sessions.remoteWhisper = (from, to, text, seq) => this.askWhisper(from, to, text, seq);
    sessions.remoteResume = (id, token) => (this.url === '' ? Promise.resolve(null) : this.resumes.ask(id, token));
    sessions.newPlayersLocal = this.config.cluster.newPlayers === 'local';
    for (const h of zones.hosts) {
      if (h.local) continue;
      this.mailIn.push({ host: h, ring: new MpscRing(h.memory.mailbox, 0) });
    }
    const slot = zones.hosts.find((h) => !h.local)?.index ?? -1;
    if (slot >= 0) for (const h of zones.hosts) if (h.local) this.mailOut.set(h.index, new MpscRing(h.memory.mailbox, 0).producer(slot));
    readiness.register('cluster', () => (this.link.up ? true : 'NATS unreachable (local zones keep playing)'), false);
    this.hbTimer = setInterval(() => this.beat(), this.config.cluster.heartbeatMs);
    this.hbTimer.unref();
    this.mailTimer = setInterval(() => this.forwardMail(), MAIL_POLL_MS);
    this.mailTimer.unref();
    // Swept more often than heartbeats arrive, so a silent node is gone within nodeTimeoutMs plus a twentieth of it.
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(20, Math.floor(this.config.cluster.nodeTimeoutMs / 20)));
    this.sweepTimer.unref();
    this.streams.start();
    this.claims?.start();
    this.beat();
    const events: ZoneEvents = {
      record: (zone, type, session, data, offset, length) => {
        if (session >= PROXY_BIT) this.fromLocalZone(zone, type, session, data, offset, length);
        else sessions.record(zone, type, session, data, offset, length);
      },
      drained: () => sessions.drained(),
      restarted: (zone) => {
        this.rejoinProxies(zone);
        sessions.restarted(zone);
      },
      down: (zone) => {
        // The gateway nodes learn it from the next heartbeat (the zone is no longer `up`) and end those sessions.
        for (const p of this.proxies.inZone(zone)) this.proxies.leftZone(p, zone);
        sessions.down(zone);
      },
    };
    return events;
  }

  // ================================================================ NATS in

  private listen(): void {
    const prefix = zoneSubject(this.id, '');
    this.link.subscribe(zoneSubject(this.id, '*'), (data, subject) => this.streams.receive(subject.slice(prefix.length), data));
    this.link.subscribe(HEARTBEAT_SUBJECT, (data) => {
      const h = parseHeartbeat(data);
      if (!h) return;
      const conflicts = this.directory.conflicts.join();
      // Restarted faster than the timeout: what its previous run had in our zones is stale.
      const known = this.directory.nodes.get(h.node);
      if (known?.alive && known.boot !== h.boot) this.nodeChanged(h.node, false);
      this.directory.note(h, Date.now());
      if (this.directory.conflicts.join() !== conflicts && this.directory.conflicts.length > 0) {
        this.log.error({ zones: this.directory.conflicts }, 'two nodes claim the same zones; the node id that sorts first keeps each');
      }
      this.refresh();
    });
    this.link.subscribe(WHISPER_SUBJECT, (data) => this.onWhisperAsk(data));
    this.link.subscribe(whisperReplySubject(this.id), (data) => this.onWhisperReply(data));
    this.link.subscribe(RESUME_SUBJECT, (data) => this.resumes.onAsk(data));
    this.link.subscribe(resumeReplySubject(this.id), (data) => this.resumes.onAnswer(data));
    this.link.subscribe(ACCOUNT_SUBJECT, (data) => this.accounts.onAsk(data));
    this.link.subscribe(accountReplySubject(this.id), (data) => this.accounts.onAnswer(data));
    this.link.onStatus((up) => {
      if (up) this.beat();
    });
  }

  private from = '';
  private batchDelivered = false;
  private readonly onRecord: BatchHandler = (kind, type, zone, session, data, offset, length) => {
    const zones = this.zones;
    if (!zones) return;
    const index = zones.indexOf(zone);
    const host = zones.hosts[index];
    if (!host) {
      this.strayRecords++;
      return;
    }
    if (kind === Kind.fromZone) {
      if (host.local) {
        this.strayRecords++;
        return;
      }
      this.sessions!.record(index, type, session, data, offset, length);
      this.batchDelivered = true;
    } else if (kind === Kind.toZone) {
      this.toLocalZone(host, type, session, data, offset, length);
    } else if (kind === Kind.who) {
      const p = this.proxies.get(this.from, session);
      if (p && length >= WhoRecord.bytes) this.who.set(p, { player: WhoRecord.player(data, offset), account: WhoRecord.account(data, offset) });
    } else if (kind === Kind.mail) {
      const p = this.mailOut.get(index);
      if (!p || !host.local || !p.push(type, 0, data, offset, length)) this.strayRecords++;
    }
  };

  private onBatch(from: string, data: Uint8Array): void {
    if (from === this.id || from === '') return;
    this.from = from;
    this.batchDelivered = false;
    if (readBatch(data, this.onRecord) < 0) {
      this.malformedBatches++;
      this.log.warn({ from, bytes: data.length }, 'malformed cluster batch; the rest of it is dropped');
    }
    if (this.batchDelivered) this.sessions!.drained();
  }

  /** Owner side: a record of a session of gateway node `this.from` for local zone `host`. */
  private toLocalZone(host: ZoneHost, type: number, session: number, data: Uint8Array, offset: number, length: number): void {
    if (!host.local) {
      this.strayRecords++;
      return;
    }
    const from = this.from;
    let p: Proxy | undefined;
    if (type === ToZone.join) {
      p = this.proxies.join(from, session);
      p.zones.add(host.index);
    } else {
      p = this.proxies.get(from, session);
    }
    if (!p || !p.zones.has(host.index)) {
      // A leave for a player this node no longer has (its zone restarted, or it left already): the gateway waits for an answer.
      if (type === ToZone.leave) this.write(from, Kind.fromZone, FromZone.left, host.def.id, session, null, 0, 0);
      else this.strayRecords++;
      return;
    }
    if (type === ToZone.fence) p.fencing.add(host.index);
    if (!host.send(type, p.id, data, offset, length) && type === ToZone.join) {
      this.proxies.leftZone(p, host.index);
      const err = new Uint8Array(JoinFailedRecord.size);
      JoinFailedRecord.write(err, 0, -1);
      this.write(from, Kind.fromZone, FromZone.joinFailed, host.def.id, session, err, 0, err.length);
    }
  }

  /** Owner side: a local zone's record for a proxy goes back to the node holding its session. */
  private fromLocalZone(zone: number, type: number, proxyId: number, data: Uint8Array, offset: number, length: number): void {
    const p = this.proxies.byProxyId(proxyId);
    if (!p) {
      this.strayRecords++;
      return;
    }
    if (this.orphans.has(p)) {
      // Its gateway node is gone: nobody to send to; its final state (the answer to the leave) is saved here.
      if (type === FromZone.left || type === FromZone.joinFailed || type === FromZone.fenceAck) {
        this.proxies.leftZone(p, zone);
        if (type === FromZone.left) this.saveOrphan(p, zone, data, offset, length);
        else if (p.zones.size === 0) this.saveOrphan(p, zone, p.state, 0, p.stateLen);
      }
      return;
    }
    if (type === FromZone.state) {
      if (p.state.length < length) p.state = new Uint8Array(length * 2);
      p.state.set(data.subarray(offset, offset + length));
      p.stateLen = length;
    } else if (type === FromZone.joined) {
      p.entity = JoinedRecord.entity(data, offset);
    }
    this.write(p.node, Kind.fromZone, type, this.zones!.hosts[zone]!.def.id, p.session, data, offset, length);
    if (type === FromZone.left || type === FromZone.fenceAck || type === FromZone.joinFailed) this.proxies.leftZone(p, zone);
  }

  /** A local zone restarted from its checkpoint: its proxies rejoin (before the session layer's rejoins and reconcile). */
  private rejoinProxies(zone: number): void {
    const host = this.zones!.hosts[zone]!;
    for (const p of this.proxies.inZone(zone)) {
      if (p.fencing.has(zone)) {
        // It was leaving through a portal and the dead worker will never answer the fence: answer for it (as the session layer does for its own).
        this.write(p.node, Kind.fromZone, FromZone.fenceAck, host.def.id, p.session, null, 0, 0);
        this.proxies.leftZone(p, zone);
        continue;
      }
      if (p.stateLen === 0) continue;
      const off = host.reserve(ToZone.join, p.id, JoinRecord.header + p.stateLen);
      if (off < 0) continue;
      const d = host.inbound.data;
      JoinRecord.write(d, off, JoinKind.rejoin, p.entity);
      d.set(p.state.subarray(0, p.stateLen), off + JoinRecord.header);
      host.commit();
    }
  }

  // ================================================================ NATS out

  /** RemoteSink: a record for a zone another node runs. */
  toZone(host: RemoteZoneHost, type: number, session: number, src: Uint8Array | null, offset: number, length: number): boolean {
    const owner = this.directory.ownerOf(host.def.id);
    if (!owner) return false;
    this.write(owner, Kind.toZone, type, host.def.id, session, src, offset, length);
    if (type === ToZone.join) {
      const s = this.sessions?.registry.get(session);
      const saved = s !== undefined && !s.identity.guest;
      WhoRecord.write(this.whoBuf, 0, saved ? s.playerId : 0, saved ? s.identity.accountId : 0);
      this.write(owner, Kind.who, 0, host.def.id, session, this.whoBuf, 0, WhoRecord.bytes);
    }
    return true;
  }

  whyDown(host: RemoteZoneHost): string {
    const owner = this.directory.ownerOf(host.def.id);
    if (owner) return `node ${owner} reports it down`;
    return `on another node; no node running it is alive${this.link.up ? '' : ' (NATS unreachable)'}`;
  }

  /** Why a remote zone went away, for its players' kick text (after `zone <name> `; short: the close reason is 123 bytes). */
  private whyGone(zoneId: number): string {
    const owner = this.directory.ownerOf(zoneId);
    if (owner) return `is down on its node ${owner}`;
    if (!this.link.up) return 'is unreachable (NATS is down)';
    const was = [...this.directory.nodes.values()].find((e) => !e.alive && e.owned.includes(zoneId));
    return was ? `is gone with its node ${was.id}` : 'is run by no node that is alive';
  }

  /** One NATS message per peer per event-loop turn (stream.ts). */
  private write(to: string, kind: number, type: number, zone: number, session: number, src: Uint8Array | null, offset: number, length: number): void {
    this.streams.write(to, kind, type, zone, session, src, offset, length);
  }

  /** Records were lost on the stream with `peer` (it restarted, or fell too far behind): it is gone until its next heartbeat. */
  private streamReset(peer: string, why: string): void {
    this.log.warn({ peer, why }, 'cluster record stream reset; the node is treated as gone until its next heartbeat');
    if (!this.directory.forget(peer)) this.nodeChanged(peer, false);
    this.refresh();
  }

  private forwardMail(): void {
    for (const m of this.mailIn) {
      if (m.ring.isEmpty()) continue;
      this.mailHost = m.host;
      m.ring.drain(this.mailDrain);
    }
    this.mailHost = null;
  }

  // ================================================================ directory

  private beat(): void {
    if (this.stopped) return;
    const zones = this.zones;
    const up: number[] = [];
    const recovering: number[] = [];
    if (zones) {
      for (const h of zones.hosts) {
        if (!h.local) continue;
        if (h.state === ZoneState.up) up.push(h.def.id);
        else if (h.state === ZoneState.starting || h.state === ZoneState.restarting) recovering.push(h.def.id);
      }
    }
    const e = performance.eventLoopUtilization(this.elu);
    this.elu = performance.eventLoopUtilization();
    this.link.publish(
      HEARTBEAT_SUBJECT,
      encodeHeartbeat({ v: 1, node: this.id, seq: ++this.seq, boot: this.boot, owned: [...this.owned], up, recovering, sessions: this.sessions?.registry.size ?? 0, proxies: this.proxies.size, elu: Math.round(e.utilization * 1000) / 1000, url: this.url }),
    );
    this.sweep();
  }

  private sweep(): void {
    this.directory.sweep(Date.now());
    this.refresh();
  }

  /** Brings every remote zone host in line with the directory; sessions in a zone that went away end (saved with their last state). */
  private refresh(): void {
    const zones = this.zones;
    if (!zones) return;
    for (const h of zones.hosts) {
      if (h.local || !(h instanceof RemoteZoneHost)) continue;
      if (h.state === ZoneState.stopped) continue;
      const id = h.def.id;
      const next = this.directory.isZoneUp(id) ? ZoneState.up : this.directory.isZoneRecovering(id) ? ZoneState.restarting : ZoneState.down;
      if (next === h.state) continue;
      const was = h.state;
      if (next === ZoneState.up) {
        h.setReachable(true);
        this.log.info({ zone: id, owner: this.directory.ownerOf(id) }, 'remote zone up');
      } else if (next === ZoneState.restarting) {
        // Its owner restarts it from a checkpoint and rejoins our players itself: they stay.
        h.setRecovering();
        this.log.warn({ zone: id, owner: this.directory.ownerOf(id) }, 'remote zone restarting on its node; its players here stay');
      } else {
        h.setReachable(false);
        if (was !== ZoneState.down) {
          const why = this.whyGone(id);
          this.log.warn({ zone: id, why }, 'remote zone down; its players here are saved and disconnected');
          this.sessions?.down(h.index, why);
        }
      }
    }
  }

  private nodeChanged(node: string, alive: boolean): void {
    if (alive) {
      this.log.info({ peer: node }, 'cluster node joined');
      return;
    }
    this.log.warn({ peer: node }, 'cluster node gone');
    this.streams.drop(node);
    // Its gateway's players in our zones: take them out and save them with the state their zone answers with
    // (their gateway's last periodic save is older). A login of one of them meanwhile waits for it (orphanSaved).
    for (const p of this.proxies.ofNode(node)) {
      this.orphans.add(p);
      const w = this.who.get(p);
      if (w && w.account !== 0) this.orphanAccounts.set(w.account, (this.orphanAccounts.get(w.account) ?? 0) + 1);
      for (const z of [...p.zones]) {
        const host = this.zones?.hosts[z];
        if (host?.send(ToZone.leave, p.id, null)) continue;
        this.proxies.leftZone(p, z);
        if (p.zones.size === 0) this.saveOrphan(p, z, p.state, 0, p.stateLen);
      }
    }
    this.accounts.nodeGone(node);
  }

  // ================================================================ accounts

  /**
   * AccountHolder: a login of `account` on node `by`. Its session here ends as
   * in a takeover (close 4100; it leaves its zone, which hands back its final
   * state, saved on leaving); resolves once nothing of the account is left
   * unsaved here, or false after `withinMs`. The write queue is nudged (one
   * write-behind step per 50 ms at most) so the wait is a database round trip,
   * not persist.writeIntervalMs.
   */
  private letGo(account: number, by: string, withinMs: number): Promise<boolean> {
    const q = this.persistence?.queue;
    const player = this.sessions?.takenOverElsewhere(account, by) ?? -1;
    if (player >= 0) this.accounts.letGoes++;
    if (!q) return Promise.resolve(true);
    const end = performance.now() + withinMs;
    let nudged = 0;
    return new Promise((resolve) => {
      const check = (): void => {
        if (!(player >= 0 && q.isTracked(player)) && !this.orphanAccounts.has(account) && !this.hostsPlayerOf(account, by) && !q.holdsUnsaved(account)) return resolve(true);
        const now = performance.now();
        if (now >= end || this.stopped) return resolve(false);
        if (now - nudged >= 50) {
          nudged = now;
          q.tick();
        }
        setTimeout(check, 10).unref();
      };
      check();
    });
  }

  /**
   * Owner side: whether a zone here holds a player of `account` for a gateway
   * other than `by`. Its gateway, asked too, takes it out (and saves it); if
   * that gateway died and is not marked gone yet, this node saves it once it
   * is (saveOrphan). Either way the answer waits until the player has left.
   */
  private hostsPlayerOf(account: number, by: string): boolean {
    for (const h of this.zones?.hosts ?? []) {
      if (!h.local) continue;
      for (const p of this.proxies.inZone(h.index)) if (p.node !== by && this.who.get(p)?.account === account) return true;
    }
    return false;
  }

  /** Owner side: the final state of a gone gateway's player, from zone index `zone`; saved through the write queue, which is nudged. */
  private saveOrphan(p: Proxy, zone: number, data: Uint8Array, offset: number, length: number): void {
    this.orphans.delete(p);
    const w = this.who.get(p);
    const persistence = this.persistence;
    const def = this.zones?.hosts[zone]?.def;
    if (!w || w.account === 0 || !persistence || !def) return;
    const done = (): void => {
      const n = (this.orphanAccounts.get(w.account) ?? 1) - 1;
      if (n > 0) this.orphanAccounts.set(w.account, n);
      else this.orphanAccounts.delete(w.account);
    };
    const snap = (length > 0 ? snapshotOf(data.subarray(0, offset + length), offset, w.player, w.account, def.id) : null) ?? (p.stateLen > 0 ? snapshotOf(p.state, 0, w.player, w.account, def.id) : null);
    if (!snap) return done();
    // Tracked from the stored row (its version), then released with the final state: written, then forgotten.
    persistence.loadPlayer(w.player).then(
      (rec) => {
        if (rec) {
          persistence.release(w.player, snap);
          persistence.queue.tick();
          this.orphanSaves++;
        }
        done();
      },
      (err: unknown) => {
        this.log.error({ err, player: w.player }, 'could not save a player of a gone gateway node; its last periodic save stands');
        done();
      },
    );
  }

  /** A login here: null once no player of the account from a gone gateway is still waiting for its zone's final state (bounded by cluster.nodeTimeoutMs). */
  private orphanSaved(account: number): Promise<string | null> {
    if (!this.orphanAccounts.has(account)) return Promise.resolve(null);
    const end = performance.now() + this.config.cluster.nodeTimeoutMs;
    return new Promise((resolve) => {
      const check = (): void => {
        if (!this.orphanAccounts.has(account) || this.stopped) return resolve(null);
        if (performance.now() >= end) return resolve('this account\'s player is still being saved; retry-after-ms=1000');
        setTimeout(check, 10).unref();
      };
      check();
    });
  }

  // ================================================================ whispers

  private askWhisper(from: Session, to: string, text: string, seq: number): boolean {
    const peers = this.directory.alive().length;
    if (peers === 0 || !this.link.up) return false;
    const id = ++this.whisperSeq;
    const timer = setTimeout(() => this.whisperDone(id, false), this.config.cluster.requestTimeoutMs);
    timer.unref();
    this.pendingWhispers.set(id, { session: from, to, text, seq, waiting: peers, timer });
    const ask: WhisperAsk = { id, node: this.id, to, fromEntity: from.entity, fromName: from.identity.name, text };
    this.link.publish(WHISPER_SUBJECT, encodeJson(ask));
    return true;
  }

  private onWhisperAsk(data: Uint8Array): void {
    const a = decodeJson(data) as WhisperAsk | null;
    if (!a || typeof a.node !== 'string' || a.node === this.id || typeof a.to !== 'string' || typeof a.text !== 'string') return;
    const found = this.sessions?.whisperHere(a.to, Number(a.fromEntity) >>> 0, String(a.fromName), a.text) ?? false;
    this.link.publish(whisperReplySubject(a.node), encodeJson({ id: a.id, node: this.id, found }));
  }

  private onWhisperReply(data: Uint8Array): void {
    const r = decodeJson(data) as { id: number; found: boolean } | null;
    if (!r) return;
    const p = this.pendingWhispers.get(r.id);
    if (!p) return;
    if (r.found === true) return this.whisperDone(r.id, true);
    if (--p.waiting <= 0) this.whisperDone(r.id, false);
  }

  private whisperDone(id: number, found: boolean): void {
    const p = this.pendingWhispers.get(id);
    if (!p) return;
    this.pendingWhispers.delete(id);
    clearTimeout(p.timer);
    if (found) this.sessions?.whisperEcho(p.session, p.text);
    else this.sessions?.whisperNotFound(p.session, p.to, p.seq);
  }

  // ================================================================ status

  /** What this node knows of the cluster (GET /cluster). Cold path. */
  status(): Record<string, unknown> {
    const now = Date.now();
    const owners: Record<string, string> = {};
    for (const h of this.zones?.hosts ?? []) {
      const o = h.local ? this.id : this.directory.ownerOf(h.def.id);
      if (o) owners[h.def.id] = o;
    }
    return {
      node: this.id,
      owned: [...this.owned],
      nats: { up: this.link.up, messagesIn: this.link.msgsIn, messagesOut: this.link.msgsOut, disconnects: this.link.disconnects },
      url: this.url,
      nodes: [...this.directory.nodes.values()].map((e) => ({ id: e.id, url: e.url, alive: e.alive, lastSeenMsAgo: now - e.lastSeen, owned: e.owned, up: [...e.up], sessions: e.sessions, proxies: e.proxies, elu: e.elu })),
      owners,
      conflicts: this.directory.conflicts,
      proxies: this.proxies.size,
      strayRecords: this.strayRecords,
      link: streamStatus(this.streams),
    };
  }

  /** GET /cluster: status() as JSON. */
  routes(): Route[] {
    const routes: Route[] = [{ method: 'get', path: '/cluster', handler: (res) => sendJson(res, 200, this.status()) }];
    if (this.config.debug.faultInjection) routes.push(linkFaultRoute(this.streams));
    return routes;
  }

  // ================================================================ lifecycle

  private registerMetrics(registry: Registry): void {
    new PullCounter(registry, 'mmo_cluster_nats_messages_in_total', 'NATS messages this node received (batches, heartbeats, whispers).', () => this.link.msgsIn);
    new PullCounter(registry, 'mmo_cluster_nats_messages_out_total', 'NATS messages this node published.', () => this.link.msgsOut);
    new PullCounter(registry, 'mmo_cluster_nats_bytes_in_total', 'NATS payload bytes this node received.', () => this.link.bytesIn);
    new PullCounter(registry, 'mmo_cluster_nats_bytes_out_total', 'NATS payload bytes this node published.', () => this.link.bytesOut);
    new PullCounter(registry, 'mmo_cluster_nats_disconnects_total', 'Times this node lost its NATS connection.', () => this.link.disconnects);
    new PullCounter(registry, 'mmo_cluster_stray_records_total', 'Cluster records dropped: for a zone not run here or a player no longer in it.', () => this.strayRecords);
    new PullCounter(registry, 'mmo_cluster_resume_lookups_total', 'Resumes of sessions not held here that were asked of the other nodes.', () => this.resumes.lookups);
    new PullCounter(registry, 'mmo_cluster_resume_redirects_total', 'Of those, resumes sent to the node holding the session (close 4301 resume-at=<url>).', () => this.resumes.redirects);
    new PullCounter(registry, 'mmo_cluster_resume_lookups_shed_total', 'Resumes of sessions not held here refused without asking (4101): too many lookups were open.', () => this.resumes.shed);
    new PullCounter(registry, 'mmo_cluster_login_checks_total', 'Logins of accounts that first asked the other nodes to end and save the account\'s session there.', () => this.accounts.asks);
    new PullCounter(registry, 'mmo_cluster_login_checks_refused_total', 'Of those, logins refused (4200, retry-after): a node could not save the account\'s player in time, or too many checks were open.', () => this.accounts.refused);
    new PullCounter(registry, 'mmo_cluster_login_checks_unanswered_total', 'Alive nodes that did not answer a login check within cluster.nodeTimeoutMs (the login went ahead).', () => this.accounts.unanswered);
    new PullCounter(registry, 'mmo_cluster_sessions_taken_over_total', 'Sessions here ended (close 4100) because their account logged in on another node.', () => this.accounts.letGoes);
    new PullCounter(registry, 'mmo_cluster_orphan_saves_total', 'Players of a gone node\'s gateway saved here with their final state in this node\'s zone.', () => this.orphanSaves);
    new PullGauge(registry, 'mmo_cluster_nodes_alive', 'Other cluster nodes heard from within cluster.nodeTimeoutMs.', () => this.directory.alive().length);
    new PullGauge(registry, 'mmo_cluster_proxies', 'Players of other nodes\' gateways inside this node\'s zones.', () => this.proxies.size);
    registerStreamMetrics(registry, this.streams);
    if (this.claims) registerClaimMetrics(registry, this.claims);
  }

  /** Says goodbye (the others mark this node gone at once) and closes the NATS connection. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.hbTimer) clearInterval(this.hbTimer);
    if (this.mailTimer) clearInterval(this.mailTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.streams.flush();
    this.streams.stop();
    this.link.publish(
      HEARTBEAT_SUBJECT,
      encodeHeartbeat({ v: 1, node: this.id, seq: ++this.seq, boot: this.boot, owned: [...this.owned], up: [], sessions: 0, proxies: 0, elu: 0, bye: true }),
    );
    this.stopped = true;
    this.resumes.stop();
    this.accounts.stop();
    for (const p of this.pendingWhispers.values()) clearTimeout(p.timer);
    this.pendingWhispers.clear();
    try {
      await this.link.flush();
    } catch {
      // NATS away at shutdown: the others notice the silence instead.
    }
    await this.link.close();
    // The claims go last: with them, other nodes may load these players, so their final states must be written first.
    await this.persistence?.flush(Math.max(100, (this.config.server.shutdownTimeoutMs - 500) / 2)).catch(() => undefined);
    await this.claims?.stop();
  }
}
