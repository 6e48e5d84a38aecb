#pragma once

// Checks a /metrics answer with Prometheus's own promtool (Debian package prometheus), the
// outside client that decides whether a scrape works, not only our own parser.

#include <QByteArray>
#include <QProcess>
#include <QStandardPaths>
#include <QString>

#include <optional>

/// promtool's complaints about `metrics` (empty when it accepts them), or nullopt when promtool is
/// not installed (the caller skips).
inline std::optional<QString> promtoolProblems(const QByteArray &metrics)
{
    const QString promtool = QStandardPaths::findExecutable(QStringLiteral("promtool"));
    if (promtool.isEmpty())
        return std::nullopt;
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(promtool, {QStringLiteral("check"), QStringLiteral("metrics")});
    if (!p.waitForStarted())
        return std::nullopt;
    p.write(metrics);
    p.closeWriteChannel();
    if (!p.waitForFinished(30000))
        return QStringLiteral("promtool did not finish");
    const QString said = QString::fromUtf8(p.readAll()).trimmed();
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return said.isEmpty() ? QStringLiteral("promtool exit code %1").arg(p.exitCode()) : said;
    return said; // lint findings are printed with exit code 0 by some versions: still problems
}
