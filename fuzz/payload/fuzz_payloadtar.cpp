// Fuzzes the entry checks behind the signature: the input is the bundle's tar (uncompressed),
// which this harness compresses before verifying. Mutations of entries after a validly signed
// MANIFEST.json (names, types, sizes, pax records, data) reach every check, where mutated
// compressed bytes mostly stop at zstd.
#include "fuzzkey.h"

#include <zstd.h>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    QByteArray compressed(qsizetype(ZSTD_compressBound(size)), Qt::Uninitialized);
    const size_t n = ZSTD_compress(compressed.data(), size_t(compressed.size()), data, size, 1);
    if (ZSTD_isError(n))
        return 0;
    compressed.truncate(qsizetype(n));
    const iptv::payload::BundleResult verified =
        iptv::payload::verifyBundleData(compressed, fuzzpayload::keys(), fuzzpayload::limits());
    (void)verified.status.toString();
    return 0;
}
