// Fuzzes what the lean WebSocket endpoints run on every byte a peer sends before any protocol
// code sees it: the upgrade request parser (server) or the upgrade response parser (client, the
// high bit of the first byte), then that side's frame parser on the rest, fed in two pieces at a
// point taken from the input so that every split of a frame is tried. Whatever the bytes, parsing
// ends in messages, a need for more bytes, or an error with a close code.
#include <wsserver/wsframe.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace iptv::ws;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const QByteArrayView input(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));
    const bool client = data[0] & 0x80;
    qsizetype upgraded = -1; // bytes of a good upgrade head
    if (client) {
        const HandshakeResponse r = HandshakeResponse::parse(input, "dGhlIHNhbXBsZSBub25jZQ==", 4096);
        if (r.status == HandshakeResponse::Status::Bad && r.error.isEmpty())
            abort();
        if (r.status == HandshakeResponse::Status::Ok)
            upgraded = r.consumed;
    } else {
        const Handshake h = Handshake::parse(input, "/box", 4096);
        if (h.status == Handshake::Status::Bad && (h.error.isEmpty() || h.httpStatus < 400))
            abort();
        if (h.status == Handshake::Status::Ok) {
            (void)h.response();
            upgraded = h.consumed;
        }
    }
    // Frames: after a good upgrade what follows it, else the whole input.
    QByteArrayView frames = upgraded >= 0 ? input.sliced(upgraded) : input;
    const qsizetype split = frames.isEmpty() ? 0 : qsizetype(data[0] & 0x7f) % (frames.size() + 1);
    FrameParser parser(8192, client ? FrameParser::Role::Client : FrameParser::Role::Server);
    QByteArray buffer;
    for (QByteArrayView piece : {frames.first(split), frames.sliced(split)}) {
        buffer.append(piece);
        for (;;) {
            qsizetype used = 0;
            const FrameParser::Event e = parser.next(buffer, &used);
            if (used < 0 || used > buffer.size())
                abort();
            buffer.remove(0, used);
            if (e.kind == FrameParser::Event::Error) {
                if (e.code < 1000 || e.error.isEmpty())
                    abort();
                return 0;
            }
            if (e.kind == FrameParser::Event::Message && e.payload.size() > 8192)
                abort();
            if (e.kind == FrameParser::Event::None || e.kind == FrameParser::Event::Close)
                break;
        }
        if (buffer.size() > 8192 + 14 + parser.pendingBytes())
            abort(); // never more than one frame's worth held
    }
    return 0;
}
