#include "configfile.h"

#include <QFileInfo>

namespace iptv::config {

bool IniFile::open(const QString &path, QString *error)
{
    if (!QFileInfo::exists(path)) {
        *error = QStringLiteral("config file %1 does not exist").arg(path);
        return false;
    }
    m_settings = std::make_unique<QSettings>(path, QSettings::IniFormat);
    if (m_settings->status() != QSettings::NoError) {
        *error = QStringLiteral("config file %1 could not be parsed").arg(path);
        return false;
    }
    m_base = QFileInfo(path).absoluteDir();
    return true;
}

QString IniFile::resolve(const QString &path) const
{
    if (path.isEmpty() || path.contains(u"://") || QDir::isAbsolutePath(path))
        return path;
    return m_base.filePath(path);
}

} // namespace iptv::config
