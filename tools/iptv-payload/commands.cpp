#include "commands.h"

#include <core/numbers.h>
#include <core/progress.h>
#include <core/subcommand.h>
#include <payload/bundle.h>
#include <payload/keys.h>
#include <payload/version.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimeZone>

#include <memory>

namespace iptv::payloadtool {

using namespace iptv::payload;

namespace {

const QString kProgram = u"iptv-payload"_qs;

const iptv::cli::SubcommandProgram s_tool(kProgram);
using iptv::cli::humanBytes;
using iptv::cli::Parsed;

/// A bundle that was refused gets its own exit code, so scripts can tell it from a missing file.
int refused(QTextStream &err, const QString &path, const PayloadStatus &status)
{
    err << kProgram << u": "_qs << path << u": "_qs << status.toString() << '\n';
    switch (status.error) {
    case PayloadError::IoError:
    case PayloadError::DiskFull:
    case PayloadError::BadKey:
    case PayloadError::BadInput:
        return ExitError;
    default:
        return ExitRejected;
    }
}

/// Draws a progress bar per phase ("hashing", "writing", "verifying") unless quiet.
class PhaseProgress
{
public:
    explicit PhaseProgress(bool quiet) : m_quiet(quiet) {}
    ProgressFunction function()
    {
        if (m_quiet)
            return {};
        return [this](const QString &phase, qint64 done, qint64 total) {
            if (phase != m_phase) {
                if (m_bar)
                    m_bar->finish();
                m_phase = phase;
                m_bar = std::make_unique<ProgressBar>(phase, total);
            }
            m_bar->setTotal(total);
            m_bar->update(done);
        };
    }
    void finish()
    {
        if (m_bar)
            m_bar->finish();
        m_bar.reset();
    }

private:
    bool m_quiet;
    QString m_phase;
    std::unique_ptr<ProgressBar> m_bar;
};

QList<PublicKey> trustedKeys(const QCommandLineParser &parser, const QCommandLineOption &trust, QString *error)
{
    return loadPublicKeys(parser.values(trust), error);
}

void printManifest(QTextStream &out, const BundleResult &r)
{
    const Manifest &m = r.manifest;
    out << u"version          "_qs << m.version << '\n'
        << u"channel          "_qs << channelName(m.channel) << '\n'
        << u"min box version  "_qs << m.minBoxVersion << '\n'
        << u"created          "_qs << m.created.toString(Qt::ISODate) << '\n'
        << u"key              "_qs << m.keyId << '\n'
        << u"signature        "_qs << signatureStateName(r.signature)
        << (r.signatureKeyId.isEmpty() ? QString() : u" (key "_qs + r.signatureKeyId + u')') << '\n'
        << u"files            "_qs << m.files.size() << '\n'
        << u"unpacked         "_qs << humanBytes(m.totalSize) << '\n'
        << u"bundle           "_qs << humanBytes(r.bundleSize) << '\n';
    if (!m.notes.isEmpty())
        out << u"notes            "_qs << m.notes << '\n';
}

} // namespace

int keygen(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = u"keygen"_qs;
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Generates an Ed25519 signing key pair: NAME.key (secret, mode 0600) and NAME.pub (public).\n"
        "Keep NAME.key out of repositories; give NAME.pub to the control server and the boxes."_qs);
    const QCommandLineOption output({u"o"_qs, u"output"_qs}, u"Base name of the two files."_qs, u"NAME"_qs);
    parser.addOption(output);
    const Parsed p = s_tool.parse(parser, command, arguments, out, err);
    if (!p.proceed)
        return p.exitCode;
    if (!parser.isSet(output))
        return s_tool.usageError(err, command, u"-o NAME is required"_qs);
    const QString base = parser.value(output);
    const SigningKey key = SigningKey::generate();
    if (key.isNull())
        return s_tool.failure(err, u"cannot generate a key (libsodium)"_qs);
    QString error;
    if (!key.save(base + u".key"_qs, &error))
        return s_tool.failure(err, error);
    if (!key.publicKey().save(base + u".pub"_qs, &error)) {
        QFile::remove(base + u".key"_qs);
        return s_tool.failure(err, error);
    }
    out << u"secret key  "_qs << base << u".key (keep it private)\n"_qs
        << u"public key  "_qs << base << u".pub\n"_qs
        << u"key id      "_qs << key.keyId() << '\n';
    return ExitOk;
}

int build(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = u"build"_qs;
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Builds a signed payload bundle of every file under DIR (symlinks are refused).\n"
        "The result is verified as a box would verify it before it is written to OUT."_qs);
    parser.addPositionalArgument(u"dir"_qs, u"The payload's root directory."_qs, u"DIR"_qs);
    const QCommandLineOption version(u"version"_qs, u"The payload's version (e.g. 1.4.0)."_qs, u"V"_qs);
    const QCommandLineOption channel(u"channel"_qs, u"Release channel: clean or experimental."_qs, u"channel"_qs);
    const QCommandLineOption minBox(u"min-box-version"_qs, u"Oldest box version that may install it."_qs, u"V"_qs);
    const QCommandLineOption key(u"key"_qs, u"The secret signing key (NAME.key)."_qs, u"NAME.key"_qs);
    const QCommandLineOption output({u"o"_qs, u"output"_qs}, u"The bundle to write."_qs, u"OUT.bundle"_qs);
    const QCommandLineOption notes(u"notes"_qs, u"Release notes shown to operators."_qs, u"text"_qs);
    const QCommandLineOption created(
        u"created"_qs, u"Creation time (ISO 8601 or epoch seconds; default SOURCE_DATE_EPOCH or now)."_qs, u"T"_qs);
    const QCommandLineOption level(u"level"_qs, u"zstd level 1..19 (default 12)."_qs, u"N"_qs, u"12"_qs);
    const QCommandLineOption quiet({u"q"_qs, u"quiet"_qs}, u"No progress output."_qs);
    parser.addOptions({version, channel, minBox, key, output, notes, created, level, quiet});
    const Parsed p = s_tool.parse(parser, command, arguments, out, err);
    if (!p.proceed)
        return p.exitCode;
    if (parser.positionalArguments().size() != 1)
        return s_tool.usageError(err, command, u"exactly one DIR is needed"_qs);
    for (const QCommandLineOption *required : {&version, &channel, &minBox, &key, &output}) {
        if (!parser.isSet(*required))
            return s_tool.usageError(err, command, u"--%1 is required"_qs.arg(required->names().constLast()));
    }
    BundleMeta meta;
    meta.version = parser.value(version);
    meta.minBoxVersion = parser.value(minBox);
    meta.notes = parser.value(notes);
    if (!isValidVersion(meta.version))
        return s_tool.usageError(err, command, u"--version '%1' is not a version (e.g. 1.4.0)"_qs.arg(meta.version));
    if (!isValidVersion(meta.minBoxVersion))
        return s_tool.usageError(err, command, u"--min-box-version '%1' is not a version"_qs.arg(meta.minBoxVersion));
    const std::optional<Channel> ch = channelFromName(parser.value(channel));
    if (!ch)
        return s_tool.usageError(err, command, u"--channel must be clean or experimental"_qs);
    meta.channel = *ch;
    if (QString bad; !iptv::parseIntInRange(u"--level"_qs, parser.value(level), 1, 19, &meta.compressionLevel, &bad))
        return s_tool.usageError(err, command, bad);
    QString createdText = parser.value(created);
    if (createdText.isEmpty())
        createdText = qEnvironmentVariable("SOURCE_DATE_EPOCH");
    if (!createdText.isEmpty()) {
        bool ok = false;
        const qint64 epoch = createdText.toLongLong(&ok);
        meta.created = ok ? QDateTime::fromSecsSinceEpoch(epoch, QTimeZone::utc())
                          : QDateTime::fromString(createdText, Qt::ISODate);
        if (!meta.created.isValid())
            return s_tool.usageError(err, command, u"--created '%1' is neither ISO 8601 nor epoch seconds"_qs.arg(createdText));
    }
    QString error;
    const SigningKey signingKey = SigningKey::load(parser.value(key), &error);
    if (signingKey.isNull())
        return s_tool.failure(err, error);

    PhaseProgress progress(parser.isSet(quiet));
    const BundleResult r = buildBundle(parser.positionalArguments().constFirst(), meta, signingKey, parser.value(output),
                                       Limits{}, progress.function());
    progress.finish();
    if (!r.ok())
        return refused(err, parser.value(output), r.status);
    out << u"wrote            "_qs << parser.value(output) << '\n';
    printManifest(out, r);
    return ExitOk;
}

int verify(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = u"verify"_qs;
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Verifies a bundle: its signature by one of the trusted keys, then every file against the manifest.\n"
        "Exit codes: 0 valid, 1 error (unreadable file or key), 2 usage, 3 bundle refused."_qs);
    parser.addPositionalArgument(u"bundle"_qs, u"The bundle."_qs, u"FILE.bundle"_qs);
    const QCommandLineOption trust(u"trust"_qs, u"A trusted public key (repeatable)."_qs, u"NAME.pub"_qs);
    const QCommandLineOption quiet({u"q"_qs, u"quiet"_qs}, u"No progress output."_qs);
    parser.addOptions({trust, quiet});
    const Parsed p = s_tool.parse(parser, command, arguments, out, err);
    if (!p.proceed)
        return p.exitCode;
    if (parser.positionalArguments().size() != 1)
        return s_tool.usageError(err, command, u"exactly one bundle is needed"_qs);
    if (!parser.isSet(trust))
        return s_tool.usageError(err, command, u"at least one --trust key is needed"_qs);
    QString error;
    const QList<PublicKey> keys = trustedKeys(parser, trust, &error);
    if (keys.isEmpty())
        return s_tool.failure(err, error);
    const QString path = parser.positionalArguments().constFirst();
    PhaseProgress progress(parser.isSet(quiet));
    const BundleResult r = verifyBundle(path, keys, Limits{}, progress.function());
    progress.finish();
    if (!r.ok())
        return refused(err, path, r.status);
    out << path << u": valid, version "_qs << r.manifest.version << u" ("_qs << channelName(r.manifest.channel)
        << u"), "_qs << r.manifest.files.size() << u" files, signed by "_qs << r.signatureKeyId << '\n';
    return ExitOk;
}

int inspect(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = u"inspect"_qs;
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Shows a bundle's manifest and signature state without reading its files.\n"
        "Without --trust the signature is not checked. Use 'verify' before trusting a bundle."_qs);
    parser.addPositionalArgument(u"bundle"_qs, u"The bundle."_qs, u"FILE.bundle"_qs);
    const QCommandLineOption trust(u"trust"_qs, u"A trusted public key (repeatable)."_qs, u"NAME.pub"_qs);
    const QCommandLineOption json(u"json"_qs, u"Print the manifest as JSON with the signature state."_qs);
    const QCommandLineOption files(u"files"_qs, u"List the files."_qs);
    parser.addOptions({trust, json, files});
    const Parsed p = s_tool.parse(parser, command, arguments, out, err);
    if (!p.proceed)
        return p.exitCode;
    if (parser.positionalArguments().size() != 1)
        return s_tool.usageError(err, command, u"exactly one bundle is needed"_qs);
    QString error;
    const QList<PublicKey> keys = trustedKeys(parser, trust, &error);
    if (keys.isEmpty() && parser.isSet(trust))
        return s_tool.failure(err, error);
    const QString path = parser.positionalArguments().constFirst();
    const BundleResult r = inspectBundle(path, keys);
    if (!r.ok())
        return refused(err, path, r.status);
    if (parser.isSet(json)) {
        QJsonObject o = r.manifest.toJsonObject();
        o.insert(u"signature"_qs, QJsonObject{{u"state"_qs, signatureStateName(r.signature)},
                                               {u"keyId"_qs, r.signatureKeyId}});
        o.insert(u"bundleSize"_qs, double(r.bundleSize));
        out << QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Indented));
        return ExitOk;
    }
    printManifest(out, r);
    if (parser.isSet(files)) {
        for (const ManifestFile &f : r.manifest.files) {
            out << QString::fromLatin1(f.sha256.toHex().left(16)) << u"  "_qs << (f.executable ? u"x "_qs : u"  "_qs)
                << QString::number(f.size).rightJustified(10) << u"  "_qs << f.path << '\n';
        }
    }
    return ExitOk;
}

int unpack(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = u"unpack"_qs;
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Verifies a bundle and unpacks it into DIR, which must not exist yet. DIR appears only when\n"
        "every check passed (MANIFEST.json, MANIFEST.sig and payload/...); a refused bundle leaves nothing.\n"
        "Exit codes: 0 unpacked, 1 error (I/O, disk full), 2 usage, 3 bundle refused."_qs);
    parser.addPositionalArgument(u"bundle"_qs, u"The bundle."_qs, u"FILE.bundle"_qs);
    const QCommandLineOption trust(u"trust"_qs, u"A trusted public key (repeatable)."_qs, u"NAME.pub"_qs);
    const QCommandLineOption output({u"o"_qs, u"output"_qs}, u"The directory to create."_qs, u"DIR"_qs);
    const QCommandLineOption quiet({u"q"_qs, u"quiet"_qs}, u"No progress output."_qs);
    parser.addOptions({trust, output, quiet});
    const Parsed p = s_tool.parse(parser, command, arguments, out, err);
    if (!p.proceed)
        return p.exitCode;
    if (parser.positionalArguments().size() != 1)
        return s_tool.usageError(err, command, u"exactly one bundle is needed"_qs);
    if (!parser.isSet(trust))
        return s_tool.usageError(err, command, u"at least one --trust key is needed"_qs);
    if (!parser.isSet(output))
        return s_tool.usageError(err, command, u"-o DIR is required"_qs);
    QString error;
    const QList<PublicKey> keys = trustedKeys(parser, trust, &error);
    if (keys.isEmpty())
        return s_tool.failure(err, error);
    const QString path = parser.positionalArguments().constFirst();
    PhaseProgress progress(parser.isSet(quiet));
    const BundleResult r = unpackBundle(path, keys, parser.value(output), Limits{}, progress.function());
    progress.finish();
    if (!r.ok())
        return refused(err, path, r.status);
    out << u"unpacked version "_qs << r.manifest.version << u" ("_qs << r.manifest.files.size() << u" files, "_qs
        << humanBytes(r.manifest.totalSize) << u") into "_qs << parser.value(output) << '\n';
    return ExitOk;
}

int run(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString overview =
        u"Usage: iptv-payload <command> [options]\n\n"
        "Builds, signs, verifies and unpacks payload bundles (tar + zstd, Ed25519; docs/payload.md).\n\n"
        "Commands:\n"
        "  keygen   make a signing key pair (NAME.key, NAME.pub)\n"
        "  build    DIR -> signed bundle\n"
        "  verify   check a bundle against trusted public keys\n"
        "  inspect  show a bundle's manifest and signature state\n"
        "  unpack   verify and unpack into a new directory\n\n"
        "Run 'iptv-payload <command> --help' for a command's options.\n"
        "Exit codes: 0 ok, 1 error, 2 usage, 3 bundle refused.\n"_qs;
    return s_tool.dispatch(arguments, overview,
                           {
                               {u"keygen"_qs, keygen},
                               {u"build"_qs, build},
                               {u"verify"_qs, verify},
                               {u"inspect"_qs, inspect},
                               {u"unpack"_qs, unpack},
                           },
                           out, err);
}

} // namespace iptv::payloadtool
