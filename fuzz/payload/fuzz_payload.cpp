// Fuzzes bundle reading: any bytes, read as a bundle, must be accepted or refused with an error
// code, without crashing, hanging, reading out of bounds or allocating without bound; both by
// inspect (no keys) and by verify with the fuzz key.
//
// The fuzz key comes from a fixed, public seed, so that make-corpus.sh can sign seeds that get past
// the signature into the entry checks. It protects nothing; nothing but this program trusts it.
#include <payload/bundle.h>

#include <QBuffer>
#include <QLoggingCategory>

#include <cstddef>
#include <cstdint>

namespace {

const QList<iptv::payload::PublicKey> &fuzzKeys()
{
    static const QList<iptv::payload::PublicKey> s_keys{
        iptv::payload::SigningKey::fromSeed(QByteArrayLiteral("iptv-payload-fuzz-key-not-secret")).publicKey()};
    return s_keys;
}

iptv::payload::Limits fuzzLimits()
{
    // Small limits keep each input fast while every limit's code path stays reachable.
    iptv::payload::Limits limits;
    limits.maxFiles = 64;
    limits.maxEntries = 128;
    limits.maxTotalSize = 4 * 1024 * 1024;
    limits.maxFileSize = 1024 * 1024;
    limits.maxManifestSize = 64 * 1024;
    limits.ratioFloor = 256 * 1024;
    return limits;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    static const iptv::payload::Limits s_limits = fuzzLimits();
    // Every refusal is logged; millions of them would only slow the fuzzer down.
    static const bool s_quiet = [] {
        QLoggingCategory::setFilterRules(QStringLiteral("iptv.payload.warning=false"));
        return true;
    }();
    (void)s_quiet;

    const iptv::payload::BundleResult verified = iptv::payload::verifyBundleData(bytes, fuzzKeys(), s_limits);
    (void)verified.status.toString();
    if (verified.ok() && verified.manifest.toJson() != verified.manifestBytes) {
        // Not required of a valid bundle (the signature covers any bytes), but ours are canonical;
        // parse -> serialise must at least give a manifest that parses to the same thing.
        iptv::payload::PayloadStatus status;
        const auto again = iptv::payload::Manifest::parse(verified.manifest.toJson(), &status);
        if (!again || !(*again == verified.manifest))
            __builtin_trap();
    }

    QBuffer buffer;
    buffer.setData(bytes);
    buffer.open(QIODevice::ReadOnly);
    const iptv::payload::BundleResult inspected = iptv::payload::inspectBundle(&buffer, {}, s_limits);
    (void)inspected.status.toString();
    return 0;
}
