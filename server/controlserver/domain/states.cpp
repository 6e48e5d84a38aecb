#include "states.h"

namespace iptv::control {

namespace {
const char *const s_boxStates[] = {"pending", "approved", "rejected"};
const char *const s_commandStates[] = {"queued", "delivered", "acknowledged", "succeeded", "failed", "expired"};
} // namespace

QString boxStateName(BoxState s)
{
    return QLatin1String(s_boxStates[int(s)]);
}

std::optional<BoxState> boxStateFromName(QStringView name)
{
    for (int i = 0; i < 3; ++i) {
        if (name == QLatin1String(s_boxStates[i]))
            return BoxState(i);
    }
    return std::nullopt;
}

QString commandStateName(CommandState s)
{
    return QLatin1String(s_commandStates[int(s)]);
}

std::optional<CommandState> commandStateFromName(QStringView name)
{
    for (int i = 0; i < kCommandStateCount; ++i) {
        if (name == QLatin1String(s_commandStates[i]))
            return CommandState(i);
    }
    return std::nullopt;
}

qint64 parseBoxId(QStringView text)
{
    if (text.startsWith(u"b-"))
        text = text.mid(2);
    bool ok = false;
    const qint64 id = text.toLongLong(&ok);
    return ok && id > 0 ? id : 0;
}

} // namespace iptv::control
