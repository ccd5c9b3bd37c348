"""privchat_send_message: the one-statement send (PostgreSQL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:00:00.000000

A message to a channel is checked and stored by one call of this function: one
statement, one round trip, autocommitted. It is app/channels/log.py's general send path
(`ChannelLog._send_in`) written as one PL/pgSQL function:

1. Lock the channel row (FOR NO KEY UPDATE, the lock the pts UPDATE takes; a group
   change holds FOR UPDATE on the same row). In a volatile PL/pgSQL function every
   statement takes a new snapshot, so everything read after the lock sees every change
   committed before it: a block, an unfriend, a privacy change, a mute or a removal
   committed before this send starts is always seen, on every node.
2. A retry (same sender, same client id) returns the original's id: "duplicate".
3. The checks, each answering its own status (app/channels/log.py maps them to the
   same errors as the general path): not_member, muted, cannot_message (blocked either
   way, or not friends and the peer does not take messages from strangers; the peer is
   derived from the channel's key), muted_all, mention_all (roles given by the caller,
   from the permission table), bad_reply, bad_mention.
4. The writes: next pts and last message on the channel, the message, its event, the
   sender's read position and the unhiding of hidden conversations, mentions.

SQLite has no stored functions: there the general path runs (the same rules as a
transaction of statements); tests/integration/test_send_path.py checks both paths
decide alike.
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION privchat_send_message(
    p_channel_id bigint,
    p_sender_id bigint,
    p_client_msg_id text,
    p_type text,
    p_content jsonb,
    p_meta jsonb,
    p_reply_to_id bigint,
    p_mentions bigint[],
    p_mention_all boolean,
    p_now bigint,
    p_staff_roles text[],
    p_mention_all_roles text[],
    p_non_friends_default boolean
) RETURNS TABLE (
    status text,
    message_id bigint,
    pts bigint,
    recipients bigint[],
    reply_sender_id bigint,
    reply_type text,
    reply_content jsonb,
    reply_revoked_at bigint
)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_kind text;
    v_key text;
    v_deleted bigint;
    v_role text;
    v_muted_until bigint;
    v_visible_from bigint;
    v_peer bigint;
    v_allows_strangers boolean;
BEGIN
    SELECT c.kind, c.direct_key, c.deleted_at INTO v_kind, v_key, v_deleted
    FROM channels c WHERE c.id = p_channel_id FOR NO KEY UPDATE;

    SELECT m.id INTO message_id FROM messages m
    WHERE m.sender_id = p_sender_id AND m.client_msg_id = p_client_msg_id;
    IF FOUND THEN
        status := 'duplicate';
        RETURN NEXT;
        RETURN;
    END IF;

    IF v_kind IS NULL OR v_deleted IS NOT NULL THEN
        status := 'not_member';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT cm.role, cm.muted_until, cm.visible_from_pts INTO v_role, v_muted_until, v_visible_from
    FROM channel_members cm
    WHERE cm.channel_id = p_channel_id AND cm.user_id = p_sender_id AND cm.left_at IS NULL;
    IF NOT FOUND THEN
        status := 'not_member';
        RETURN NEXT;
        RETURN;
    END IF;
    IF v_muted_until IS NOT NULL AND v_muted_until > p_now THEN
        status := 'muted';
        RETURN NEXT;
        RETURN;
    END IF;

    IF v_kind = 'direct' AND v_key IS NOT NULL THEN
        v_peer := CASE WHEN split_part(v_key, ':', 1)::bigint = p_sender_id
                       THEN split_part(v_key, ':', 2)::bigint
                       ELSE split_part(v_key, ':', 1)::bigint END;
        IF EXISTS (SELECT 1 FROM blacklist b
                   WHERE (b.user_id = v_peer AND b.blocked_id = p_sender_id)
                      OR (b.user_id = p_sender_id AND b.blocked_id = v_peer)) THEN
            status := 'cannot_message';
            RETURN NEXT;
            RETURN;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM friendships f WHERE f.user_id = p_sender_id AND f.friend_id = v_peer) THEN
            SELECT ps.non_friends_may_message INTO v_allows_strangers
            FROM privacy_settings ps WHERE ps.user_id = v_peer;
            IF NOT COALESCE(v_allows_strangers, p_non_friends_default) THEN
                status := 'cannot_message';
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;
    ELSIF v_kind = 'group' THEN
        IF EXISTS (SELECT 1 FROM group_settings gs WHERE gs.channel_id = p_channel_id AND gs.mute_all)
           AND NOT (v_role = ANY (p_staff_roles)) THEN
            status := 'muted_all';
            RETURN NEXT;
            RETURN;
        END IF;
        IF p_mention_all AND NOT (v_role = ANY (p_mention_all_roles)) THEN
            status := 'mention_all';
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    SELECT array_agg(cm.user_id ORDER BY cm.user_id) INTO recipients
    FROM channel_members cm WHERE cm.channel_id = p_channel_id AND cm.left_at IS NULL;

    IF p_reply_to_id IS NOT NULL THEN
        SELECT m.sender_id, m.type, m.content, m.revoked_at
        INTO reply_sender_id, reply_type, reply_content, reply_revoked_at
        FROM messages m
        WHERE m.id = p_reply_to_id AND m.channel_id = p_channel_id AND m.pts > v_visible_from;
        IF NOT FOUND THEN
            status := 'bad_reply';
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    IF cardinality(p_mentions) > 0 AND NOT (p_mentions <@ recipients) THEN
        status := 'bad_mention';
        RETURN NEXT;
        RETURN;
    END IF;

    message_id := nextval('messages_id_seq');
    UPDATE channels c SET pts = c.pts + 1, last_event_at = p_now, last_message_id = message_id
    WHERE c.id = p_channel_id
    RETURNING c.pts INTO pts;
    INSERT INTO messages (id, channel_id, pts, sender_id, client_msg_id, type, content, meta,
                          reply_to_id, forwarded_from_id, mentions, mention_all, created_at)
    VALUES (message_id, p_channel_id, pts, p_sender_id, p_client_msg_id, p_type, p_content, p_meta,
            p_reply_to_id, NULL,
            CASE WHEN cardinality(p_mentions) > 0 THEN to_jsonb(p_mentions) END,
            p_mention_all, p_now);
    INSERT INTO channel_events (channel_id, pts, kind, actor_id, message_id, payload, created_at)
    VALUES (p_channel_id, pts, 'message', p_sender_id, message_id, NULL, p_now);
    UPDATE channel_members cm
    SET read_pts = CASE WHEN cm.user_id = p_sender_id AND cm.read_pts < pts THEN pts ELSE cm.read_pts END,
        hidden = false
    WHERE cm.channel_id = p_channel_id AND (cm.user_id = p_sender_id OR cm.hidden);
    IF p_mention_all OR cardinality(p_mentions) > 0 THEN
        UPDATE channel_members cm SET mention_pts = pts
        WHERE cm.channel_id = p_channel_id AND cm.left_at IS NULL AND cm.user_id <> p_sender_id
          AND (p_mention_all OR cm.user_id = ANY (p_mentions));
    END IF;
    status := 'ok';
    RETURN NEXT;
END
$fn$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            'DROP FUNCTION IF EXISTS privchat_send_message('
            'bigint, bigint, text, text, jsonb, jsonb, bigint, bigint[], boolean, bigint, text[], text[], boolean)'
        )
