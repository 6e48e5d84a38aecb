#pragma once

// What the servers' config loaders share: an INI file opened with the same checks and paths in it
// taken relative to the file (integer settings: iptv::parseIntInRange in numbers.h).

#include <QDir>
#include <QSettings>
#include <QString>
#include <QVariant>

#include <memory>

namespace iptv::config {

/// A server's INI config file.
class IniFile
{
public:
    /// Fails with *error set when the file does not exist or cannot be parsed.
    bool open(const QString &path, QString *error);

    bool has(const char *key) const { return m_settings->contains(QLatin1String(key)); }
    QVariant value(const char *key) const { return m_settings->value(QLatin1String(key)); }
    QSettings &settings() { return *m_settings; }
    /// A relative path is relative to the file, so a config and its data travel together; URLs
    /// and absolute paths are kept.
    QString resolve(const QString &path) const;

private:
    std::unique_ptr<QSettings> m_settings;
    QDir m_base;
};

} // namespace iptv::config
