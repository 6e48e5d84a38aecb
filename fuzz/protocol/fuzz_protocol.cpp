// Fuzzes the control protocol decoder the server runs on every frame a box or operator sends:
// any bytes give a message or an error code with a reason, within the limits, without crashing;
// a decoded message goes through every typed body reader, and what decodes re-encodes and
// decodes to the same envelope. The server's telemetry fast path (decodeTelemetry) is checked
// against decode() + Telemetry::fromBody() on every input: what it takes, they take the same way.
#include <protocol/message.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace iptv::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArrayView bytes(reinterpret_cast<const char *>(data), qsizetype(size));
    DecodeLimits limits;
    limits.maxFrameBytes = 64 * 1024;
    limits.maxStringBytes = 16 * 1024;
    TelemetryMessage fast;
    if (decodeTelemetry(bytes, limits, &fast)) {
        const DecodeResult general = decode(bytes, limits);
        QString error;
        const auto t = general.ok() && general.message.type == MessageType::Telemetry
            ? Telemetry::fromBody(general.message.body, &error) : std::nullopt;
        // Compared as values, or as bytes where a NaN makes values unequal to themselves.
        if (!t || general.message.id != fast.id || general.message.replyTo != fast.replyTo
            || !(fast.telemetry == *t || fast.telemetry.toCbor() == t->toCbor()))
            abort();
    }
    // Text frames (operators) start with '{' in practice; try both decoders on everything.
    for (const DecodeResult &r : {decode(bytes, limits), decodeJson(bytes, limits)}) {
        if (!r.ok()) {
            if (r.errorText.isEmpty())
                abort(); // every error says why
            continue;
        }
        QString error;
        (void)Hello::fromBody(r.message.body, &error);
        (void)Welcome::fromBody(r.message.body, &error);
        (void)Telemetry::fromBody(r.message.body, &error);
        if (const auto event = BoxEvent::fromBody(r.message.body, &error)) {
            // An install report must read back the same after writing it again.
            if (const auto report = InstallReport::fromEvent(*event, &error)) {
                const auto again = InstallReport::fromEvent(report->toEvent(event->text), &error);
                if (!again || !(*again == *report))
                    abort();
            } else if (!error.isEmpty() && event->kind != u"install" && event->kind != u"rollback") {
                abort(); // only install events have reports to get wrong
            }
        }
        (void)Command::fromBody(r.message.body, &error);
        (void)CommandAck::fromBody(r.message.body, &error);
        (void)CommandResult::fromBody(r.message.body, &error);
        (void)GuideUpdated::fromBody(r.message.body, &error);
        (void)ReleaseAvailable::fromBody(r.message.body, &error);
        (void)ErrorBody::fromBody(r.message.body, &error);
        DecodeLimits roomy;
        roomy.maxFrameBytes = 1 << 22;
        roomy.maxStringBytes = 1 << 22;
        // Compared as bytes: a NaN in the body is not equal to itself as a value.
        const QByteArray encoded = encode(r.message);
        const DecodeResult again = decode(encoded, roomy);
        if (!again.ok() || again.message.type != r.message.type || again.message.id != r.message.id
            || again.message.replyTo != r.message.replyTo || encode(again.message) != encoded)
            abort();
    }
    return 0;
}
