#pragma once

// Channel and Programme records as CBOR maps: the store keeps one blob per record, and the JSON
// API prints the same maps (QCborMap::toJsonObject), so both speak the same field names.
//
// Keys are the XMLTV element names in camelCase; empty fields are omitted, which keeps a typical
// programme at a few hundred bytes. Lists of language texts are arrays of {"lang","text"}
// (lang omitted when empty). Decoding ignores unknown keys, so fields can be added later.

#include <epg/programme.h>

#include <QCborMap>
#include <QJsonObject>

namespace iptv::next {

QCborMap channelToCbor(const iptv::epg::Channel &channel);
iptv::epg::Channel channelFromCbor(const QCborMap &map);

QCborMap programmeToCbor(const iptv::epg::Programme &programme);
iptv::epg::Programme programmeFromCbor(const QCborMap &map);

inline QJsonObject programmeToJson(const iptv::epg::Programme &p) { return programmeToCbor(p).toJsonObject(); }
inline QJsonObject channelToJson(const iptv::epg::Channel &c) { return channelToCbor(c).toJsonObject(); }

} // namespace iptv::next
