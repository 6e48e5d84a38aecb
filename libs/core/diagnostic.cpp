#include "diagnostic.h"

namespace iptv {

QString Diagnostic::toString() const
{
    QString where = source.isEmpty() ? QStringLiteral("<input>") : source;
    if (line > 0) {
        where += u':' + QString::number(line);
        if (column > 0)
            where += u':' + QString::number(column);
    }
    const auto kind = severity == Severity::Error ? QStringLiteral("error") : QStringLiteral("warning");
    return where + u": " + kind + u": " + message;
}

void DiagnosticList::add(Diagnostic d)
{
    if (d.severity == Diagnostic::Severity::Error)
        ++m_errors;
    else
        ++m_warnings;
    if (m_items.size() < m_cap)
        m_items.append(std::move(d));
}

void DiagnosticList::warning(const QString &source, qint64 line, qint64 column, const QString &message)
{
    add({Diagnostic::Severity::Warning, source, line, column, message});
}

void DiagnosticList::error(const QString &source, qint64 line, qint64 column, const QString &message)
{
    add({Diagnostic::Severity::Error, source, line, column, message});
}

QString DiagnosticList::summary() const
{
    QString s = QString::number(m_errors) + u" error(s), " + QString::number(m_warnings) + u" warning(s)";
    if (total() > m_items.size())
        s += u" (" + QString::number(total() - m_items.size()) + u" not listed)";
    return s;
}

} // namespace iptv
