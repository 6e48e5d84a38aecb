#include "desktophal.h"

namespace iptv::hal {

DesktopHal::DesktopHal(QObject *parent) : Hal(parent), m_player(createPlayer(this))
{
    m_player->setAudio(volume(), isMuted());
}

} // namespace iptv::hal
