// Fuzzes a recording rule as a box or an operator sends it (diver's POST /api/rules body): any
// bytes must give a rule or an error naming why, without crashing or hanging (a hostile regex
// included: validate() compiles it), and a rule that is read must survive toJson()/fromJson()
// unchanged, so what diver stores is what it was sent.
#include <dvr/rule.h>

#include <QJsonDocument>
#include <QJsonObject>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

using iptv::dvr::RecordingRule;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    const QJsonDocument doc = QJsonDocument::fromJson(bytes);
    if (!doc.isObject())
        return 0;
    QString error;
    const std::optional<RecordingRule> rule = RecordingRule::fromJson(doc.object(), &error);
    if (!rule) {
        if (error.isEmpty()) {
            std::fprintf(stderr, "fuzz_dvrrule: a refused rule without a reason\n");
            std::abort();
        }
        return 0;
    }
    QString why;
    if (!rule->validate(&why) && why.isEmpty()) {
        std::fprintf(stderr, "fuzz_dvrrule: an invalid rule without a reason\n");
        std::abort();
    }
    QString again;
    const std::optional<RecordingRule> back = RecordingRule::fromJson(rule->toJson(), &again);
    if (!back || !(*back == *rule)) {
        std::fprintf(stderr, "fuzz_dvrrule: toJson/fromJson changed the rule: %s\n",
                     QJsonDocument(rule->toJson()).toJson(QJsonDocument::Compact).constData());
        std::abort();
    }
    return 0;
}
