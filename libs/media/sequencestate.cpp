#include "sequencestate.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include <cmath>

namespace iptv::media {

namespace {
constexpr qint64 kLargest = 1LL << 53; // JSON numbers are doubles: exact up to here

void setError(QString *error, const QString &text)
{
    if (error)
        *error = text;
}
QString describe(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Undefined: return QStringLiteral("missing");
    case QJsonValue::Null: return QStringLiteral("null");
    case QJsonValue::Bool: return value.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case QJsonValue::Double: return QString::number(value.toDouble(), 'g', 17);
    case QJsonValue::String: return u'"' + value.toString().left(40) + u'"';
    case QJsonValue::Array: return QStringLiteral("an array");
    case QJsonValue::Object: return QStringLiteral("an object");
    }
    return QString();
}
} // namespace

std::optional<SequenceState> SequenceState::load(const QString &path, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        setError(error, QStringLiteral("cannot read the sequence state %1: %2").arg(path, file.errorString()));
        return std::nullopt;
    }
    const QByteArray bytes = file.read(64 * 1024 + 1);
    if (bytes.size() > 64 * 1024) {
        setError(error, QStringLiteral("the sequence state %1 is damaged: larger than 64 KiB").arg(path));
        return std::nullopt;
    }
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(bytes, &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        setError(error, QStringLiteral("the sequence state %1 is damaged: %2 at byte %3")
                            .arg(path, parseError.errorString()).arg(parseError.offset));
        return std::nullopt;
    }
    if (!document.isObject()) {
        setError(error, QStringLiteral("the sequence state %1 is damaged: not a JSON object").arg(path));
        return std::nullopt;
    }
    const QJsonObject object = document.object();
    SequenceState state;
    for (const auto &[key, field] : {std::pair{QStringLiteral("mediaSequence"), &state.mediaSequence},
                                     std::pair{QStringLiteral("discontinuitySequence"), &state.discontinuitySequence}}) {
        const QJsonValue value = object.value(key);
        const double number = value.toDouble(-1);
        if (!value.isDouble() || number < 0 || number >= double(kLargest) || std::floor(number) != number) {
            setError(error, QStringLiteral("the sequence state %1 is damaged: \"%2\" is %3, expected a whole number from 0")
                                .arg(path, key, describe(value)));
            return std::nullopt;
        }
        *field = qint64(number);
    }
    return state;
}

bool SequenceState::save(const QString &path, QString *error) const
{
    if (mediaSequence < 0 || discontinuitySequence < 0 || mediaSequence >= kLargest || discontinuitySequence >= kLargest) {
        setError(error, QStringLiteral("cannot save the sequence state %1: numbers out of range").arg(path));
        return false;
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        setError(error, QStringLiteral("cannot write the sequence state %1: %2").arg(path, file.errorString()));
        return false;
    }
    const QJsonObject object{{QStringLiteral("mediaSequence"), double(mediaSequence)},
                             {QStringLiteral("discontinuitySequence"), double(discontinuitySequence)}};
    file.write(QJsonDocument(object).toJson(QJsonDocument::Indented));
    if (!file.commit()) {
        setError(error, QStringLiteral("cannot write the sequence state %1: %2").arg(path, file.errorString()));
        return false;
    }
    return true;
}

} // namespace iptv::media
