#include "linuxboxhal.h"

#include <QFile>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcBoxHal, "iptv.hal.box", QtInfoMsg)

namespace iptv::hal {

LinuxBoxHal::LinuxBoxHal(LinuxBoxPaths paths, QObject *parent)
    : Hal(parent), m_paths(std::move(paths)), m_player(createPlayer(this))
{
    m_player->setAudio(volume(), isMuted());
}

bool LinuxBoxHal::writeDevice(const QString &path, const QByteArray &value)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Unbuffered) || f.write(value) != value.size()) {
        const QString error = QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
        if (error != m_lastError)
            qCWarning(lcBoxHal).noquote() << error;
        m_lastError = error;
        return false;
    }
    m_lastError.clear();
    return true;
}

void LinuxBoxHal::applyStandby(bool standby)
{
    // fbdev: 0 = unblank, 4 = powerdown (FB_BLANK_POWERDOWN).
    if (!m_paths.blank.isEmpty())
        writeDevice(m_paths.blank, standby ? "4\n" : "0\n");
}

void LinuxBoxHal::applyFrontPanel(const QString &text)
{
    if (!m_paths.frontPanel.isEmpty())
        writeDevice(m_paths.frontPanel, text.toUtf8() + '\n');
}

} // namespace iptv::hal
