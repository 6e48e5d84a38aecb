#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_protocol: one CBOR and one JSON frame per message type."""
import json, os, struct

def head(major, n):
    if n < 24: return bytes([major << 5 | n])
    if n < 256: return bytes([major << 5 | 24, n])
    if n < 65536: return bytes([major << 5 | 25]) + struct.pack('>H', n)
    if n < 2**32: return bytes([major << 5 | 26]) + struct.pack('>I', n)
    return bytes([major << 5 | 27]) + struct.pack('>Q', n)

def cbor(v):
    if isinstance(v, bool): return b'\xf5' if v else b'\xf4'
    if isinstance(v, int): return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float): return b'\xfb' + struct.pack('>d', v)
    if isinstance(v, bytes): return head(2, len(v)) + v
    if isinstance(v, str): b = v.encode(); return head(3, len(b)) + b
    if isinstance(v, list): return head(4, len(v)) + b''.join(cbor(x) for x in v)
    if isinstance(v, dict): return head(5, len(v)) + b''.join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(v)

messages = {
    'hello': {'t': 'hello', 'id': 1, 'v': [1, 1], 'serial': 'SN1', 'mac': '00:11:22:33:44:55', 'model': 'HX',
              'sw': '1.0.0', 'rch': 'clean', 'secret': b'\x01' * 32},
    'hello-operator': {'t': 'hello', 'id': 1, 'v': [1, 1], 'role': 'operator', 'account': 'admin', 'token': b'tok'},
    'welcome': {'t': 'welcome', 're': 1, 'v': 1, 'box': 'b1', 'state': 'approved', 'token': b'x' * 16, 'hb': 30, 'tel': 60},
    'telemetry': {'t': 'telemetry', 'id': 2, 'ts': 1790000000000, 'cpu': 12.5, 'mem': 400000, 'temp': 55.0,
                  'zap': [300, 700], 'ft': {'n': 60, 'p50': 16.6, 'p95': 20.0, 'p99': 33.0, 'max': 50.0}},
    # What a box sends every sample (Telemetry::toCbor order, envelope last): the server's fast path.
    'telemetry-box': {'ts': 1790000000000, 'cpu': 23.5, 'mem': 412000, 'memTotal': 1024000, 'temp': 61.5, 'up': 86400,
                      'sw': '2.4.1', 'rch': 'clean', 'ch': 'bbc-one', 'player': 'playing', 'buf': 2, 'bufMs': 1800,
                      'err': 1, 'zap': [640, 720], 'ft': {'n': 60, 'p50': 16.6, 'p95': 20.0, 'p99': 33.3, 'max': 50.0},
                      't': 'telemetry', 'id': 9, 'hdmi': True},
    'event': {'t': 'event', 'id': 3, 'kind': 'buffering', 'sev': 'warning', 'data': {'ms': 800}},
    'command': {'t': 'command', 'id': 4, 'cmd': 17, 'name': 'tune', 'args': {'channel': 'arte'}, 'exp': 1790000600000},
    'ack': {'t': 'ack', 'id': 5, 're': 4, 'cmd': 17},
    'result': {'t': 'result', 'id': 6, 'cmd': 17, 'ok': True, 'data': b'log line\n', 'mime': 'text/plain'},
    'release': {'t': 'release-available', 'id': 7, 'version': '2.0.0', 'channel': 'clean', 'url': 'http://x/b',
                'sha256': b'\x00' * 32, 'size': 1000, 'rollout': 3},
    'guide': {'t': 'guide-updated', 'id': 8, 'version': 'abc', 'url': 'http://x/guide', 'size': 10},
    'error': {'t': 'error', 're': 9, 'code': 'overloaded', 'text': 'busy', 'retryAfter': 5},
    'subscribe': {'t': 'subscribe', 'id': 10, 'topics': ['fleet', 'box:b1']},
    # Ids use the whole unsigned 64-bit range (QCborValue holds those above 2^63 - 1 as doubles).
    'ping-max-id': {'t': 'ping', 'id': 2**64 - 1, 're': 2**63},
    'telemetry-max-id': {'cpu': 1.5, 't': 'telemetry', 'id': 2**64 - 1},
}

def jsonable(v):
    import base64
    if isinstance(v, bytes): return base64.urlsafe_b64encode(v).decode().rstrip('=')
    if isinstance(v, dict): return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list): return [jsonable(x) for x in v]
    return v

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
os.makedirs(here, exist_ok=True)
for name, m in messages.items():
    open(os.path.join(here, name + '.cbor'), 'wb').write(cbor(m))
    open(os.path.join(here, name + '.json'), 'w').write(json.dumps(jsonable(m), separators=(',', ':')))
