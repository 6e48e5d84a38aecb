#pragma once

// The states a box and a command go through, named as the store, the API and the logs write them.

#include <QString>
#include <QStringView>

#include <optional>

namespace iptv::control {

enum class BoxState : quint8 { Pending, Approved, Rejected };
QString boxStateName(BoxState s);
std::optional<BoxState> boxStateFromName(QStringView name);

enum class CommandState : quint8 { Queued, Delivered, Acknowledged, Succeeded, Failed, Expired };
inline constexpr int kCommandStateCount = 6;
QString commandStateName(CommandState s);
std::optional<CommandState> commandStateFromName(QStringView name);
inline bool isFinal(CommandState s) { return s >= CommandState::Succeeded; }

/// "b-12": how the API, the logs and the audit write a box id.
inline QString boxIdText(qint64 id) { return u"b-"_qs + QString::number(id); }
/// "b-12" or "12" -> 12; 0 when neither.
qint64 parseBoxId(QStringView text);

} // namespace iptv::control
