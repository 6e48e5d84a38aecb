#pragma once

// The fuzz key and limits shared by the payload fuzz targets. The key comes from a fixed, public
// seed, so that make-corpus.sh can sign seeds that get past the signature into the entry checks.
// It protects nothing; nothing but these programs trusts it.

#include <payload/bundle.h>

#include <QLoggingCategory>

namespace fuzzpayload {

inline const QList<iptv::payload::PublicKey> &keys()
{
    static const QList<iptv::payload::PublicKey> s_keys{
        iptv::payload::SigningKey::fromSeed(QByteArrayLiteral("iptv-payload-fuzz-key-not-secret")).publicKey()};
    return s_keys;
}

/// Small limits keep each input fast while every limit's code path stays reachable. Also silences
/// the refusal log, which millions of inputs would only slow down.
inline const iptv::payload::Limits &limits()
{
    static const iptv::payload::Limits s_limits = [] {
        QLoggingCategory::setFilterRules(QStringLiteral("iptv.payload.warning=false"));
        iptv::payload::Limits l;
        l.maxFiles = 64;
        l.maxEntries = 128;
        l.maxTotalSize = 4 * 1024 * 1024;
        l.maxFileSize = 1024 * 1024;
        l.maxManifestSize = 64 * 1024;
        l.ratioFloor = 256 * 1024;
        return l;
    }();
    return s_limits;
}

} // namespace fuzzpayload
