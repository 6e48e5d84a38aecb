import QtQuick
import Hubris.Native

// One programme: title, when, where, episode and description. OK watches it when it is on now.
Rectangle {
    id: page
    objectName: "detailsPage"
    signal closed()
    property var info: ({})
    property bool reminderSet: false
    function show(airing) { info = GuideGrid.details(airing); reminderSet = Reminders.isSet(airing); choice = 0 }
    readonly property bool onNow: info.start !== undefined && info.start <= GuideGrid.now() && GuideGrid.now() < info.stop
    // Network DVR: what the recorder does with it, and what the archive of its channel allows.
    readonly property string mark: Dvr.revision >= 0 && info.airing !== undefined ? Dvr.markOf(info.airing) : ""
    readonly property bool archived: Dvr.revision >= 0 && info.channel !== undefined && Dvr.isArchived(info.channel)
    readonly property bool series: Dvr.revision >= 0 && info.airing !== undefined && Dvr.isSeries(info.airing)
    // An episode of a series the viewer skipped: yellow records it again (yellow skips one planned).
    readonly property bool skipped: Dvr.revision >= 0 && info.airing !== undefined && Dvr.isSkipped(info.airing)
    // Left out of the plan: why, in a few words (a conflict: what is in the way, where it fits).
    readonly property string why: Dvr.revision >= 0 && info.airing !== undefined ? Dvr.reasonOf(info.airing) : ""
    readonly property bool past: info.stop !== undefined && info.stop <= GuideGrid.now()
    // The buttons along the bottom (left/right choose, OK runs): watch live, from the start, catch-up.
    // Catch-up only of what the archive holds (it begins when diver began archiving the channel).
    readonly property bool inArchive: archived && Dvr.revision >= 0 && info.stop > Dvr.archiveStart(info.channel)
    // The archive began after the programme did: it plays from there, and the button says so.
    readonly property string archivedFrom: archived && Dvr.revision >= 0 && Dvr.archiveStart(info.channel) > info.start
                                           ? clock(Dvr.archiveStart(info.channel)) : ""
    readonly property var choiceLabels: choices.map(c => c === "live" ? qsTr("Watch now")
        : c === "start" ? (archivedFrom ? qsTr("From %1").arg(archivedFrom) : qsTr("From the start"))
        : (archivedFrom ? qsTr("Catch up from %1").arg(archivedFrom) : qsTr("Catch up")))
    readonly property var choices: onNow ? (archived ? ["live", "start"] : ["live"]) : (past && inArchive ? ["catchup"] : [])
    property int choice: 0
    signal play()
    function handle(action) {
        switch (action) {
        case RemoteKeys.Left: choice = Math.max(0, choice - 1); return true
        case RemoteKeys.Right: choice = Math.min(choices.length - 1, choice + 1); return true
        case RemoteKeys.Ok: {
            const what = choices[Math.min(choice, choices.length - 1)]
            if (what === "live") { Zapper.tune(info.channel); page.closed(); page.watch() }
            else if ((what === "start" || what === "catchup") && Playback.watchFromStart(info.airing)) page.play()
            return true
        }
        case RemoteKeys.Green: case RemoteKeys.Record:
            if (past || info.airing === undefined) return true
            if (mark === "planned" || mark === "recording" || mark === "conflict") Dvr.cancelAiring(info.airing)
            else Dvr.recordAiring(info.airing)
            return true
        case RemoteKeys.Yellow:
            // The series key: records the series, or, on an airing of one, skips this episode or takes that back.
            if (past || info.airing === undefined) return true
            if (skipped) Dvr.skipEpisode(info.airing, false)
            else if (series && (mark === "planned" || mark === "conflict")) Dvr.skipEpisode(info.airing, true)
            else if (!series) Dvr.recordSeries(info.airing)
            return true
        case RemoteKeys.Red:
            if (!onNow && info.airing !== undefined) reminderSet = Reminders.toggle(info.airing)
            return true
        case RemoteKeys.Back: case RemoteKeys.Info: page.closed(); return true
        }
        return false
    }
    signal watch()
    color: Theme.background
    function clock(t) { return Qt.formatTime(new Date(t * 1000), "hh:mm") }

    Column {
        // Below a one-line toast (what REC or green did), so that the title stays readable under it.
        x: Theme.margin * 2; y: Theme.margin * 2 + 24
        width: parent.width - 4 * Theme.margin
        spacing: 16
        Text {
            textFormat: Text.PlainText
            width: parent.width; wrapMode: Text.Wrap
            text: page.info.title || ""
            color: Theme.text
            font.family: Theme.family; font.pixelSize: Theme.fontHuge; font.bold: true
        }
        Text {
            textFormat: Text.PlainText
            width: parent.width; wrapMode: Text.Wrap
            visible: text.length > 0
            text: [page.info.subTitle, page.info.episode].filter(s => s && s.length > 0).join("  ·  ")
            color: Theme.dimText
            font.family: Theme.family; font.pixelSize: Theme.fontNormal
        }
        Text {
            textFormat: Text.PlainText
            text: page.info.start === undefined ? "" :
                  Qt.formatDate(new Date(page.info.start * 1000), "ddd d MMM") + "  " + page.clock(page.info.start) + "–"
                  + page.clock(page.info.stop) + "   " + page.info.channelNumber + " " + page.info.channelName
                  + (page.info.category ? "   " + page.info.category : "")
            color: Theme.accent
            font.family: Theme.family; font.pixelSize: Theme.fontNormal
        }
        Text {
            textFormat: Text.PlainText
            width: parent.width; wrapMode: Text.Wrap
            maximumLineCount: 6; elide: Text.ElideRight
            text: page.info.description || qsTr("No description")
            color: Theme.text
            font.family: Theme.family; font.pixelSize: Theme.fontNormal
            lineHeight: 1.2
        }
    }
    Text {
        anchors.bottom: parent.bottom; anchors.bottomMargin: Theme.margin * 2 + 14; x: Theme.margin * 2
        visible: !page.onNow && page.info.start !== undefined && page.info.start > GuideGrid.now()
        textFormat: Text.StyledText
        text: page.reminderSet ? qsTr("● Reminder set · red removes it") : Theme.keys(qsTr("● red: remind me"))
        color: page.reminderSet ? Theme.accent : Theme.dimText
        font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
    Row {
        anchors.bottom: parent.bottom; anchors.bottomMargin: Theme.margin * 2; x: Theme.margin * 2
        spacing: 16
        Repeater {
            model: page.choices
            Rectangle {
                required property int index
                required property string modelData
                readonly property bool chosen: index === Math.min(page.choice, page.choices.length - 1)
                width: label.implicitWidth + 48; height: 60; radius: 8
                color: chosen ? Theme.cellNow : Theme.cell
                border.color: chosen ? Theme.focus : "transparent"; border.width: Theme.focusWidth
                Text { textFormat: Text.PlainText; id: label; anchors.centerIn: parent; color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal
                       text: page.choiceLabels[parent.index] || "" }
            }
        }
    }
    // Recording: its state, and the keys (a line of its own above the reminder and the buttons:
    // a series' keys do not fit beside them).
    Text {
        anchors.bottom: parent.bottom; anchors.bottomMargin: Theme.margin * 2 + 66
        objectName: "detailsRecordingState"
        x: Theme.margin * 2; width: parent.width - 4 * Theme.margin
        wrapMode: Text.Wrap; maximumLineCount: 3; elide: Text.ElideRight
        textFormat: Text.StyledText
        visible: Dvr.enabled && !page.past && page.info.start !== undefined
        text: Theme.keys(page.mark === "recording" ? qsTr("● Recording · stop it in Recordings") : page.mark === "planned" ? (page.series ? qsTr("● Will be recorded (series) · yellow skips this episode · green cancels the series") : qsTr("● Will be recorded · green cancels"))
              : page.mark === "conflict" ? qsTr("○ Not recorded: %1").arg(page.why.length > 0 ? page.why : qsTr("conflict"))
                                           + (page.series ? qsTr(" · yellow skips this episode · green cancels the series") : qsTr(" · green cancels"))
              : page.skipped ? qsTr("○ Episode skipped · yellow records this episode again")
              : qsTr("● green record   ● yellow record series"))
        color: page.mark === "" && !page.skipped ? Theme.dimText : page.skipped ? Theme.accent : Theme.error
        font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
}
