import QtQuick
import Hubris.Native

// The parental PIN, typed with the digit keys: over the video or a page, it takes every key
// until it is done (Back deletes a digit, or closes it when there is none). Five wrong PINs lock
// entry out for a while, and it says how long. Also asks for a new PIN twice to change it.
Rectangle {
    id: root
    objectName: "pinPrompt"
    property bool shown: false
    property string title: ""
    property string mode: "check"     // check, new, confirm
    property string entered: ""
    property string firstNew: ""
    property string message: ""
    property bool messageIsError: false
    property var onSuccess: null
    signal closed()

    function ask(heading, success) {
        title = heading
        mode = "check"
        onSuccess = success || null
        reset("")
        shown = true
    }
    function askNewPin(done) {
        title = qsTr("New PIN")
        mode = "new"
        onSuccess = done || null
        reset(qsTr("Four digits"))
        shown = true
    }
    function reset(text, isError) { entered = ""; message = text; messageIsError = !!isError }
    function close() { shown = false; root.closed() }
    function submit() {
        if (mode === "check") {
            if (Parental.enterPin(entered)) {
                shown = false
                const done = onSuccess
                onSuccess = null
                if (done) done()
                root.closed()
            } else if (!Parental.lockedOut) {
                reset(Parental.attemptsLeft === 1 ? qsTr("Wrong PIN · one try left")
                                                  : qsTr("Wrong PIN · %1 tries left").arg(Parental.attemptsLeft), true)
            } else {
                reset("", true)
            }
        } else if (mode === "new") {
            firstNew = entered
            mode = "confirm"
            reset(qsTr("The same four digits again"))
        } else {
            if (entered === firstNew && Parental.changePin(entered)) {
                shown = false
                const done = onSuccess
                onSuccess = null
                if (done) done()
                root.closed()
            } else {
                mode = "new"
                reset(qsTr("The two PINs differ · four digits again"), true)
            }
        }
    }
    function handle(action) {
        const d = Remote.digitOf(action)
        if (d >= 0) {
            if (mode === "check" && Parental.lockedOut) return true
            entered += String(d)
            if (entered.length === 4) submit()
            return true
        }
        if (action === RemoteKeys.Back) {
            if (entered.length > 0) entered = entered.slice(0, -1)
            else close()
        }
        return true // nothing else leaves it: focus stays here
    }
    function clock(seconds) {
        const m = Math.floor(seconds / 60), s = seconds % 60
        return m + ":" + (s < 10 ? "0" : "") + s
    }

    visible: shown
    anchors.centerIn: parent
    width: 620; height: 330; radius: 14
    color: Theme.panelSolid
    border.color: Theme.focus; border.width: Theme.focusWidth

    Row {
        x: 40; y: 32; spacing: 16
        LockIcon { anchors.verticalCenter: parent.verticalCenter; color: Theme.accent }
        Text {
            textFormat: Text.PlainText
            text: root.title
            color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
        }
    }
    Row {
        anchors.horizontalCenter: parent.horizontalCenter
        y: 104; spacing: 22
        Repeater {
            model: 4
            Rectangle {
                required property int index
                readonly property bool next: index === root.entered.length
                width: 72; height: 84; radius: 8
                color: Theme.cell
                border.color: next && !(root.mode === "check" && Parental.lockedOut) ? Theme.focus : Theme.dimText
                border.width: next ? Theme.focusWidth : 1
                Rectangle {
                    anchors.centerIn: parent
                    width: 22; height: 22; radius: 11
                    color: Theme.text
                    visible: parent.index < root.entered.length
                }
            }
        }
    }
    Text {
        id: status
        textFormat: Text.PlainText
        anchors.horizontalCenter: parent.horizontalCenter
        y: 214
        width: parent.width - 80
        horizontalAlignment: Text.AlignHCenter
        wrapMode: Text.Wrap
        text: root.mode === "check" && Parental.lockedOut
              ? qsTr("Too many wrong PINs\nTry again in %1").arg(root.clock(Parental.lockoutSeconds))
              : root.message
        color: (root.mode === "check" && Parental.lockedOut) || root.messageIsError ? Theme.error : Theme.dimText
        font.family: Theme.family; font.pixelSize: Theme.fontNormal; font.bold: root.mode === "check" && Parental.lockedOut
    }
    Text {
        textFormat: Text.PlainText
        anchors.bottom: parent.bottom; anchors.bottomMargin: 22
        anchors.horizontalCenter: parent.horizontalCenter
        text: qsTr("Digits enter the PIN · Back deletes or closes")
        color: Theme.dimText; font.family: Theme.family; font.pixelSize: 16
    }
}
