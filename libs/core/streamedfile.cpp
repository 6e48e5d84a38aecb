#include "streamedfile.h"

#include <QFile>
#include <QProcess>
#include <QSaveFile>

namespace iptv {

bool writeStreamedFile(const QString &path, const std::function<bool(QIODevice *)> &body, QString *error)
{
    QString ignored;
    if (!error)
        error = &ignored;
    QString compressor;
    if (path.endsWith(u".gz", Qt::CaseInsensitive))
        compressor = QStringLiteral("gzip");
    else if (path.endsWith(u".xz", Qt::CaseInsensitive))
        compressor = QStringLiteral("xz");
    if (compressor.isEmpty()) {
        QSaveFile file(path);
        if (!file.open(QIODevice::WriteOnly)) {
            *error = QStringLiteral("%1: cannot write: %2").arg(path, file.errorString());
            return false;
        }
        if (!body(&file)) {
            file.cancelWriting();
            if (error->isEmpty())
                *error = QStringLiteral("%1: write failed: %2").arg(path, file.errorString());
            return false;
        }
        if (!file.commit()) {
            *error = QStringLiteral("%1: cannot write: %2").arg(path, file.errorString());
            return false;
        }
        return true;
    }
    const QString partial = path + QStringLiteral(".part");
    QProcess process;
    process.setStandardOutputFile(partial, QIODevice::Truncate);
    process.start(compressor, {QStringLiteral("-c")});
    if (!process.waitForStarted(-1)) {
        *error = QStringLiteral("%1: cannot start %2: %3").arg(path, compressor, process.errorString());
        return false;
    }
    const bool ok = body(&process);
    while (process.bytesToWrite() > 0 && process.waitForBytesWritten(-1)) {
    }
    process.closeWriteChannel();
    process.waitForFinished(-1);
    if (!ok || process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0) {
        if (error->isEmpty())
            *error = QStringLiteral("%1: %2 failed: %3").arg(path, compressor, QString::fromLocal8Bit(process.readAllStandardError()));
        QFile::remove(partial);
        return false;
    }
    QFile::remove(path);
    if (!QFile::rename(partial, path)) {
        *error = QStringLiteral("%1: cannot move %2 into place").arg(path, partial);
        return false;
    }
    return true;
}

void drainPipe(QIODevice *device)
{
    if (auto *process = qobject_cast<QProcess *>(device)) {
        while (process->bytesToWrite() > (4 << 20)) {
            if (!process->waitForBytesWritten(-1))
                break;
        }
    }
}

} // namespace iptv
