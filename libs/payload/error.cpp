#include "error.h"

namespace iptv::payload {

QString errorName(PayloadError error)
{
    switch (error) {
    case PayloadError::None: return u"None"_qs;
    case PayloadError::IoError: return u"IoError"_qs;
    case PayloadError::DiskFull: return u"DiskFull"_qs;
    case PayloadError::BadArchive: return u"BadArchive"_qs;
    case PayloadError::BadSignature: return u"BadSignature"_qs;
    case PayloadError::UnknownKey: return u"UnknownKey"_qs;
    case PayloadError::BadManifest: return u"BadManifest"_qs;
    case PayloadError::PathTraversal: return u"PathTraversal"_qs;
    case PayloadError::UnsupportedEntry: return u"UnsupportedEntry"_qs;
    case PayloadError::DuplicateEntry: return u"DuplicateEntry"_qs;
    case PayloadError::HashMismatch: return u"HashMismatch"_qs;
    case PayloadError::SizeMismatch: return u"SizeMismatch"_qs;
    case PayloadError::MissingFile: return u"MissingFile"_qs;
    case PayloadError::ExtraFile: return u"ExtraFile"_qs;
    case PayloadError::TooLarge: return u"TooLarge"_qs;
    case PayloadError::BadKey: return u"BadKey"_qs;
    case PayloadError::BadInput: return u"BadInput"_qs;
    case PayloadError::NotNewer: return u"NotNewer"_qs;
    case PayloadError::BoxTooOld: return u"BoxTooOld"_qs;
    }
    return u"Unknown"_qs;
}

QString PayloadStatus::toString() const
{
    if (ok())
        return u"ok"_qs;
    if (entry.isEmpty())
        return errorName(error) + u": "_qs + message;
    return errorName(error) + u": "_qs + entry + u": "_qs + message;
}

} // namespace iptv::payload
