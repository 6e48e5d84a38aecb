import QtQuick
import QtQuick.Window
import QtMultimedia
import Hubris.Native

// Hubris: the video underneath, one page on top of it at a time, and one key handler that turns
// every key into an action for the page in front, so focus can never be lost.
Window {
    id: window
    width: simulator ? 1280 + 260 : 1280
    height: 720
    visible: true
    // The guide's background is the window's clear colour, not a full-screen rectangle: with Qt
    // Quick on a software rasteriser (llvmpipe) every rectangle pixel costs, clearing is nearly free.
    color: page === "guide" ? Theme.background : "black"
    title: qsTr("Hubris")

    property bool simulator: Shell.simulator
    property string page: "live"    // live, channels, guide, details, search, menu, settings, parental, text, recordings, upcoming, playback
    property string detailsFrom: "guide" // where Back from the details page goes
    property bool messageShown: false // an operator's message is on screen

    // An operator's message (the control server's "message" command): OK or Back dismisses it.
    function showMessage(text, seconds) {
        operatorMessage.text = text
        messageShown = true
        if (seconds > 0) { messageTimer.interval = seconds * 1000; messageTimer.restart() }
    }
    // A reminder's programme starts: OK watches it, Back dismisses.
    property var reminder: null
    function showReminder(title, channel, channelName, start) {
        reminder = { title: title, channel: channel, channelName: channelName, start: start }
    }
    function show(name) {
        NumberEntry.clear() // digits typed on one page are not a number for the next
        page = name
        if (name === "channels") channels.page().open()
        else if (name === "guide") guide.page().open()
        else if (name === "search") search.page().open()
        else if (name === "menu") menu.page().open()
        else if (name === "settings") settings.page().open()
        else if (name === "parental") parental.page().open()
        else if (name === "recordings") recordings.page().open()
        else if (name === "upcoming") upcoming.page().open()
        else if (name === "playback") playback.page().open()
        keys.forceActiveFocus()
    }
    // Back to a page as it was left (the guide at the programme whose details were open, the
    // search with its results), not opened afresh.
    function showAgain(name) {
        page = name
        keys.forceActiveFocus()
    }
    // The PIN first unless the session is unlocked already, then `then`.
    function withPin(title, then) {
        if (Parental.unlocked) then()
        else pin.ask(title, then)
    }
    function askPinForChannel() {
        if (Zapper.blocked && !pin.shown && (page === "live" || page === "channels"))
            pin.ask(qsTr("Locked · enter the PIN"), null)
    }
    function dispatch(action) {
        // Keys every page shares.
        switch (action) {
        case RemoteKeys.Power:
            Hal.standby = !Hal.standby
            if (!Hal.standby) Zapper.retune()
            return true
        case RemoteKeys.VolumeUp: Hal.changeVolume(5); volume.show(); return true
        case RemoteKeys.VolumeDown: Hal.changeVolume(-5); volume.show(); return true
        case RemoteKeys.Mute: Hal.toggleMute(); volume.show(); return true
        case RemoteKeys.Blue:
            if (page === "guide" && !pin.shown) break // the guide's favourites filter
            Theme.highContrast = !Theme.highContrast; return true
        case RemoteKeys.Diagnostics: Diagnostics.toggle(); return true
        }
        if (Hal.standby) return true
        if (pin.shown) return pin.handle(action)
        if (reminder && (action === RemoteKeys.Ok || action === RemoteKeys.Back)) {
            if (action === RemoteKeys.Ok && reminder.channel >= 0) {
                Zapper.tune(reminder.channel)
                show("live")
            }
            reminder = null
            return true
        }
        if (messageShown && (action === RemoteKeys.Ok || action === RemoteKeys.Back)) {
            messageShown = false
            return true
        }
        // Channel numbers, the same in live TV, the channel list and the guide: digits type,
        // OK takes the number at once, Back forgets it; NumberEntry.onChosen says what it does.
        if (page === "live" || page === "channels" || page === "guide") {
            const digit = Remote.digitOf(action)
            if (digit >= 0) {
                if (page === "channels") show("live")
                NumberEntry.digit(digit)
                return true
            }
            if (NumberEntry.active && action === RemoteKeys.Ok) { NumberEntry.commit(); return true }
            if (NumberEntry.active && action === RemoteKeys.Back) { NumberEntry.clear(); return true }
        }
        switch (page) {
        case "live": return live.handle(action)
        case "channels": return channels.page().handle(action)
        case "guide": return guide.page().handle(action)
        case "details": return details.page().handle(action)
        case "search": return search.page().handle(action)
        case "menu": return menu.page().handle(action)
        case "settings": return settings.page().handle(action)
        case "parental": return parental.page().handle(action)
        case "text": return textEntry.page().handle(action)
        case "recordings": return recordings.page().handle(action)
        case "upcoming": return upcoming.page().handle(action)
        case "playback": return playback.page().handle(action)
        }
        return false
    }

    Item {
        id: screen
        width: 1280; height: 720
        clip: true

        VideoOutput {
            id: video
            anchors.fill: parent
            // A locked channel shows no picture, not even its last frame; the guide covers the screen
            // without a background of its own (the window's colour), so the picture goes meanwhile.
            visible: !Zapper.blocked && window.page !== "guide"
            fillMode: VideoOutput.PreserveAspectFit
            Component.onCompleted: Hal.player.setVideoSink(video.videoSink)
        }

        LivePage {
            id: live
            anchors.fill: parent
            visible: window.page === "live" || window.page === "channels"
            overlaid: window.page === "channels"
            onOpenChannels: window.show("channels")
            onOpenGuide: window.show("guide")
            onOpenMenu: window.show("menu")
            onAskPin: window.askPinForChannel()
            onOpenPlayback: { playback.page().returnTo = "live"; window.show("playback") }
            onNotice: (text) => toast.show(text, false)
        }
        // The other pages are created after the first live picture (LazyPage), each on its first
        // use if that comes sooner: a cold start's picture waits for live TV's QML only.
        LazyPage {
            id: channels
            // Not sized by the loader: the list keeps its own width.
            x: Theme.margin; y: Theme.margin
            height: parent.height - 2 * Theme.margin
            sourceComponent: ChannelList {
                visible: window.page === "channels"
                onClosed: { window.show("live"); window.askPinForChannel() }
                onToggleLock: (channel) => window.withPin(qsTr("PIN to lock or unlock"), () => Parental.toggleChannelLock(channel))
            }
        }
        LazyPage {
            id: guide
            anchors.fill: parent
            sourceComponent: GuidePage {
                id: guidePage
                visible: window.page === "guide"
                onClosed: window.show("live")
                onOpenDetails: (airing) => { details.page().show(airing); window.detailsFrom = "guide"; window.show("details") }
                onUnlock: (channel) => window.withPin(qsTr("PIN to show locked programmes"), () => guidePage.showChannel(channel))
            }
        }
        LazyPage {
            id: search
            anchors.fill: parent
            sourceComponent: SearchPage {
                visible: window.page === "search"
                onClosed: window.show("live")
                onOpenDetails: (airing) => { details.page().show(airing); window.detailsFrom = "search"; window.show("details") }
            }
        }
        LazyPage {
            id: settings
            anchors.fill: parent
            sourceComponent: SettingsPage {
                visible: window.page === "settings"
                onClosed: window.show("live")
                onEditText: (key, title, value) => { textEntry.page().open(key, title, value); window.page = "text" }
                onOpenParental: window.withPin(qsTr("Parental control PIN"), () => window.show("parental"))
                onRefreshed: toast.show(qsTr("Asking %1 for a new guide").arg(GuideStore.server), false)
            }
        }
        LazyPage {
            id: parental
            anchors.fill: parent
            sourceComponent: ParentalPage {
                visible: window.page === "parental"
                onClosed: { window.page = "settings" }
                onChangePin: pin.askNewPin(() => toast.show(qsTr("The new PIN is set"), false))
            }
        }
        LazyPage {
            id: textEntry
            anchors.fill: parent
            sourceComponent: TextEntryPage {
                visible: window.page === "text"
                onClosed: window.page = "settings"
                onAccepted: (key, text) => {
                    if (key === "guideServer") Settings.guideServer = text
                    else if (key === "controlServer") Settings.controlServer = text
                }
            }
        }
        LazyPage {
            id: details
            anchors.fill: parent
            sourceComponent: DetailsPage {
                visible: window.page === "details"
                onClosed: window.showAgain(window.detailsFrom)
                onWatch: window.show("live")
                onPlay: { playback.page().returnTo = "details"; window.show("playback") }
            }
        }
        LazyPage {
            id: recordings
            anchors.fill: parent
            sourceComponent: RecordingsPage {
                visible: window.page === "recordings"
                onClosed: window.show("live")
                onPlay: { playback.page().returnTo = "recordings"; window.show("playback") }
                onOpenUpcoming: window.show("upcoming")
            }
        }
        LazyPage {
            id: upcoming
            anchors.fill: parent
            sourceComponent: UpcomingPage {
                visible: window.page === "upcoming"
                onClosed: window.show("recordings")
            }
        }
        LazyPage {
            id: playback
            anchors.fill: parent
            sourceComponent: PlaybackPage {
                id: playbackPage
                visible: window.page === "playback"
                onClosed: window.show(playbackPage.returnTo)
            }
        }
        LazyPage {
            id: menu
            x: Theme.margin; y: Theme.margin
            height: parent.height - 2 * Theme.margin
            sourceComponent: MenuPage {
                visible: window.page === "menu"
                onClosed: window.show("live")
                onChosen: (name) => {
                    if (name === "diagnostics") { Diagnostics.toggle(); window.show("live") }
                    else window.show(name)
                }
            }
        }

        // Volume OSD
        Rectangle {
            id: volume
            objectName: "volumeOsd"
            function show() { opacity = 1; hideVolume.restart() }
            anchors.right: parent.right; anchors.top: parent.top; anchors.margins: Theme.margin
            width: 260; height: 64; radius: 10
            color: Theme.panel
            opacity: 0; visible: opacity > 0
            Behavior on opacity { NumberAnimation { duration: 120 } }
            Timer { id: hideVolume; interval: 2000; onTriggered: volume.opacity = 0 }
            Text {
                textFormat: Text.PlainText
                x: 16; anchors.verticalCenter: parent.verticalCenter
                text: Hal.muted ? qsTr("Muted") : qsTr("Volume %1").arg(Hal.volume)
                color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal
            }
        }

        // Offline and guide state: said on screen, small and always there while it lasts; the box
        // keeps working with the guide in memory and the last lineup.
        Rectangle {
            objectName: "offlineIndicator"
            visible: Offline.shown && !Hal.standby
            anchors.left: parent.left; anchors.bottom: parent.bottom; anchors.margins: 12
            width: offlineRow.implicitWidth + 28; height: 36; radius: 18
            color: Theme.panelSolid
            border.color: Offline.offline ? Theme.error : Theme.dimText; border.width: 1
            Row {
                id: offlineRow
                anchors.centerIn: parent
                spacing: 10
                Rectangle { width: 12; height: 12; radius: 6; anchors.verticalCenter: parent.verticalCenter
                            color: Offline.offline ? Theme.error : Theme.dimText }
                Text {
                    textFormat: Text.PlainText
                    text: Offline.text
                    color: Theme.text; font.family: Theme.family; font.pixelSize: 16
                }
            }
        }

        UpdateScreen { }
        DiagnosticsOverlay { }
        PinPrompt { id: pin }

        Rectangle { // standby
            anchors.fill: parent
            color: "black"
            visible: Hal.standby
            Text { textFormat: Text.PlainText; anchors.centerIn: parent; text: qsTr("Standby"); color: "#333"; font.pixelSize: Theme.fontLarge }
        }

        Rectangle {
            id: messageBox
            visible: window.messageShown
            anchors.centerIn: parent
            width: Math.min(parent.width - 4 * Theme.margin, operatorMessage.implicitWidth + 80)
            height: operatorMessage.implicitHeight + 110
            radius: 12
            color: Theme.panelSolid
            border.color: Theme.focus; border.width: Theme.focusWidth
            Text {
                id: operatorMessage
                textFormat: Text.PlainText
                x: 40; y: 30
                width: Math.min(implicitWidth, screen.width - 4 * Theme.margin - 80)
                wrapMode: Text.Wrap
                color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal
            }
            Text {
                textFormat: Text.PlainText
                anchors.bottom: parent.bottom; anchors.bottomMargin: 20; anchors.horizontalCenter: parent.horizontalCenter
                text: qsTr("Message from your operator · OK to close")
                color: Theme.dimText; font.family: Theme.family; font.pixelSize: 16
            }
            Timer { id: messageTimer; onTriggered: window.messageShown = false }
        }

        Rectangle {
            visible: window.reminder !== null
            // Top right: clear of the info banner and the channel list.
            anchors.top: parent.top; anchors.right: parent.right; anchors.margins: Theme.margin
            width: 520; height: 150; radius: 12
            color: Theme.panelSolid
            border.color: Theme.focus; border.width: Theme.focusWidth
            Column {
                x: 24; y: 18; width: parent.width - 48; spacing: 6
                Text { textFormat: Text.PlainText; text: qsTr("Reminder · %1").arg(window.reminder ? Qt.formatTime(new Date(window.reminder.start * 1000), "hh:mm") : "")
                       color: Theme.accent; font.family: Theme.family; font.pixelSize: Theme.fontSmall }
                Text { textFormat: Text.PlainText; width: parent.width; elide: Text.ElideRight; text: window.reminder ? window.reminder.title : ""
                       color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal; font.bold: true }
                Text { textFormat: Text.PlainText; text: window.reminder ? qsTr("on %1 · OK watch · Back dismiss").arg(window.reminder.channelName) : ""
                       color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontSmall }
            }
        }

        // The channel number being typed ("1__") over live TV; the guide shows it in its header.
        Rectangle {
            objectName: "numberOsd"
            visible: NumberEntry.active && window.page === "live"
            anchors.top: parent.top; anchors.right: parent.right; anchors.margins: Theme.margin
            width: numberText.implicitWidth + 56; height: 90; radius: 10
            color: Theme.panelSolid
            border.color: Theme.focus; border.width: Theme.highContrast ? Theme.focusWidth : 0
            Text {
                id: numberText
                textFormat: Text.PlainText
                objectName: "numberOsdText"
                anchors.centerIn: parent
                text: NumberEntry.display
                color: Theme.text
                font.family: Theme.family; font.pixelSize: Theme.fontHuge; font.bold: true; font.letterSpacing: 6
            }
        }

        Toast { id: toast }
        Connections {
            target: NumberEntry
            function onChosen(row, number) {
                if (window.page === "guide") {
                    if (!guide.page().jumpTo(row))
                        toast.show(qsTr("Channel %1 is not shown in the guide").arg(number), true)
                } else {
                    Zapper.tune(row)
                }
            }
            function onNoSuchChannel(number) { toast.show(qsTr("No channel %1").arg(number), true) }
        }
        Connections {
            target: Zapper
            function onPlaybackFailed(message) { toast.show(message, true) }
        }
        Connections {
            target: Dvr
            function onErrorOccurred(message) { toast.show(message, true) }
            function onNotice(message) { toast.show(message, false) }
            function onRecorded(title, planned, skipped, firstReason, now, message, error) { toast.show(message, error) }
        }
        Connections {
            target: GuideStore
            function onRefreshFailed(reason) { toast.show(reason, true) }
        }
        Connections {
            target: Zapper
            function onBlockedChanged() { window.askPinForChannel() }
        }
    }

    Item {
        id: keys
        anchors.fill: parent
        focus: true
        Keys.onPressed: (event) => {
            // A keyboard types into the search (the simulator, a debug session); remotes use the
            // on-screen keyboard.
            if (window.page === "search" && event.text.length === 1 && /[a-z ]/i.test(event.text)) {
                search.page().type(event.text)
                event.accepted = true
                return
            }
            if (window.page === "text" && event.text.length === 1 && /[a-z.:\/_-]/i.test(event.text)) {
                textEntry.page().type(event.text)
                event.accepted = true
                return
            }
            const action = Remote.action(event.key, event.modifiers)
            if (action !== RemoteKeys.None)
                event.accepted = window.dispatch(action)
        }
    }

    Rectangle { // the simulator's side stays black whatever the window's colour
        visible: window.simulator
        x: 1280; width: parent.width - 1280; height: parent.height
        color: "black"
    }
    SimulatorRemote {
        visible: window.simulator
        x: 1280 + 20; y: 20
        height: 680
        onPressed: (action) => window.dispatch(action)
    }
}
