// Fuzzes bundle reading: any bytes, read as a bundle, must be accepted or refused with an error
// code, without crashing, hanging, reading out of bounds or allocating without bound; both by
// inspect (no keys) and by verify with the fuzz key (fuzzkey.h).
#include "fuzzkey.h"

#include <QBuffer>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));

    const iptv::payload::BundleResult verified =
        iptv::payload::verifyBundleData(bytes, fuzzpayload::keys(), fuzzpayload::limits());
    (void)verified.status.toString();
    if (verified.ok()) {
        // A bundle that verifies has a manifest that survives serialising and parsing again.
        iptv::payload::PayloadStatus status;
        const auto again = iptv::payload::Manifest::parse(verified.manifest.toJson(), &status);
        if (!again || !(*again == verified.manifest))
            __builtin_trap();
    }

    QBuffer buffer;
    buffer.setData(bytes);
    buffer.open(QIODevice::ReadOnly);
    const iptv::payload::BundleResult inspected = iptv::payload::inspectBundle(&buffer, {}, fuzzpayload::limits());
    (void)inspected.status.toString();
    return 0;
}
