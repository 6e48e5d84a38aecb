#include "updateprogress.h"

#include <QLocale>

namespace iptv::hubris {

UpdateProgress::UpdateProgress(QObject *parent) : QObject(parent)
{
    m_clear.setSingleShot(true);
    m_clear.setInterval(8000);
    connect(&m_clear, &QTimer::timeout, this, [this] { set(Idle, QString()); });
}

void UpdateProgress::attach(boxlink::UpdateInstaller *installer)
{
    connect(installer, &boxlink::UpdateInstaller::stageChanged, this, &UpdateProgress::stageChanged);
    connect(installer, &boxlink::UpdateInstaller::downloadProgress, this, &UpdateProgress::downloadProgress);
    connect(installer, &boxlink::UpdateInstaller::installFinished, this, &UpdateProgress::finished);
}

void UpdateProgress::set(Stage stage, const QString &version)
{
    m_stage = stage;
    m_version = version;
    m_clear.stop();
    Q_EMIT changed();
}

void UpdateProgress::stageChanged(const QString &version, boxlink::UpdateInstaller::Stage stage)
{
    switch (stage) {
    case boxlink::UpdateInstaller::Stage::Downloading:
        m_received = 0;
        m_total = 0;
        m_error.clear();
        set(Downloading, version);
        return;
    case boxlink::UpdateInstaller::Stage::Verifying: set(Verifying, version); return;
    case boxlink::UpdateInstaller::Stage::Installing: set(Installing, version); return;
    }
}

void UpdateProgress::downloadProgress(const QString &version, qint64 received, qint64 total)
{
    m_received = received;
    m_total = total;
    if (m_stage != Downloading || version != m_version)
        set(Downloading, version);
    else
        Q_EMIT changed();
}

void UpdateProgress::finished(bool ok, const QString &version, const QString &text)
{
    if (m_stage == Idle || m_stage == Restarting)
        return; // not an install this screen followed ("already installed")
    if (ok) {
        set(Installing, version);
        m_clear.start(); // the app restarts now; if it does not, the screen goes anyway
        return;
    }
    m_error = text;
    set(Failed, version);
    m_clear.start();
}

void UpdateProgress::restarting()
{
    set(Restarting, m_version);
}

double UpdateProgress::progress() const
{
    // The download is most of the time; verifying and installing the rest.
    switch (m_stage) {
    case Downloading: return m_total > 0 ? 0.8 * double(qMin(m_received, m_total)) / double(m_total) : -1;
    case Verifying: return 0.85;
    case Installing: return 0.95;
    case Restarting: return 1;
    case Idle:
    case Failed: break;
    }
    return 0;
}

QString UpdateProgress::text() const
{
    const QLocale locale;
    switch (m_stage) {
    case Idle: return {};
    case Downloading:
        return m_total > 0 ? tr("Downloading · %1 of %2").arg(locale.formattedDataSize(m_received), locale.formattedDataSize(m_total))
                           : tr("Downloading · %1").arg(locale.formattedDataSize(m_received));
    case Verifying: return tr("Verifying the signature");
    case Installing: return tr("Installing");
    case Restarting: return tr("Restarting into the new version");
    case Failed: return tr("The update failed: %1").arg(m_error);
    }
    return {};
}

} // namespace iptv::hubris
