// Builders for the observation shapes the dialects emit. Each returns one object literal with its fields in a
// fixed order (no object spread: spreads cost over a microsecond per line in Node 20, and one shape per kind
// keeps the interpreters' call sites monomorphic), so a dialect writes `connect(b, peer)` instead of ten lines.

import type {
  ConnectObservation,
  DeliveryObservation,
  DisconnectObservation,
  FailureDetailObservation,
  FailureObservation,
  FailureReason,
  HandshakeObservation,
  MessageObservation,
  Peer,
  Protocol,
  StarttlsLostObservation,
} from '../model/types.js';

/** What every observation of one line shares: dialect, service, direction, correlation key, time. */
export type ObservationHead = Pick<ConnectObservation, 'mta' | 'service' | 'direction' | 'key' | 'timeMs'>;

export function connectObs(b: ObservationHead, peer: Peer): ConnectObservation {
  return {
    mta: b.mta,
    service: b.service,
    direction: b.direction,
    key: b.key,
    timeMs: b.timeMs,
    kind: 'connect',
    peer,
  };
}

export function disconnectObs(
  b: ObservationHead,
  peer: Peer | null,
  starttls: DisconnectObservation['starttls'],
  commands: number | null,
): DisconnectObservation {
  return {
    mta: b.mta,
    service: b.service,
    direction: b.direction,
    key: b.key,
    timeMs: b.timeMs,
    kind: 'disconnect',
    peer,
    starttls,
    commands,
  };
}

export function handshakeObs(
  b: ObservationHead,
  peer: Peer | null,
  protocol: Protocol,
  cipher: string,
  bits: string | null,
  trust: string | null,
): HandshakeObservation {
  return {
    mta: b.mta,
    service: b.service,
    direction: b.direction,
    key: b.key,
    timeMs: b.timeMs,
    kind: 'handshake',
    peer,
    protocol,
    cipher,
    bits,
    trust,
  };
}

export function failureObs(
  b: ObservationHead,
  peer: Peer | null,
  reason: FailureReason,
  detail: string,
): FailureObservation {
  return {
    mta: b.mta,
    service: b.service,
    direction: b.direction,
    key: b.key,
    timeMs: b.timeMs,
    kind: 'failure',
    peer,
    reason,
    detail,
  };
}

export function failureDetailObs(b: ObservationHead, reason: FailureReason, detail: string): FailureDetailObservation {
  return {
    mta: b.mta,
    service: b.service,
    direction: b.direction,
    key: b.key,
    timeMs: b.timeMs,
    kind: 'failure-detail',
    reason,
    detail,
  };
}

export function starttlsLostObs(b: ObservationHead, peer: Peer | null): StarttlsLostObservation {
  return {
    mta: b.mta,
    service: b.service,
    direction: b.direction,
    key: b.key,
    timeMs: b.timeMs,
    kind: 'starttls-lost',
    peer,
  };
}

export function messageObs(b: ObservationHead, peer: Peer | null, queueId: string | null): MessageObservation {
  return {
    mta: b.mta,
    service: b.service,
    direction: b.direction,
    key: b.key,
    timeMs: b.timeMs,
    kind: 'message',
    peer,
    queueId,
  };
}

export function deliveryObs(
  b: ObservationHead,
  peer: Peer,
  queueId: string | null,
  status: string,
): DeliveryObservation {
  return {
    mta: b.mta,
    service: b.service,
    direction: b.direction,
    key: b.key,
    timeMs: b.timeMs,
    kind: 'delivery',
    peer,
    queueId,
    status,
  };
}
