#pragma once

#include <QString>

#include <functional>

class QIODevice;

namespace iptv {

/// Writes `path` through `body`, which streams into the device it is given: plain files
/// atomically (QSaveFile), .gz and .xz through the gzip and xz programs, so that an export of any
/// size streams instead of being held whole for an in-memory compressor. The compressed file
/// appears under its name only once complete. On failure *error says what and where.
bool writeStreamedFile(const QString &path, const std::function<bool(QIODevice *)> &body, QString *error);

/// Lets a pipe's reader drain what was written (no-op for other devices), so streaming into a
/// compressor keeps memory bounded. Call it now and then from `body`.
void drainPipe(QIODevice *device);

} // namespace iptv
