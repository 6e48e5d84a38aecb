// iptv-payload: see commands.h for the commands; this file only wires them to stdio.

#include "commands.h"

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QTextStream>

#include <cstdio>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("iptv-payload"));
    QCoreApplication::setApplicationVersion(QStringLiteral(IPTV_VERSION));
    // The commands print every result and refusal themselves; the library's log lines would say it
    // twice. QT_LOGGING_RULES still turns them on.
    QLoggingCategory::setFilterRules(QStringLiteral("iptv.payload.info=false\niptv.payload.warning=false"));
    int code = 0;
    {
        QTextStream out(stdout);
        QTextStream err(stderr);
        code = iptv::payloadtool::run(QCoreApplication::arguments(), out, err);
    }
    return code;
}
