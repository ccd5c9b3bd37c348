"""sticker/*: published packs and the caller's collection; admin/sticker/*: managing packs."""

from __future__ import annotations

from app.context import RequestContext
from app.ops import Audience, Auth, mutation, query
from app.stickers.service import StickerSpec
from schema.common import Ok, parse_id
from schema.stickers import (
    AdminStickerPackageCreateInput,
    AdminStickerPackageDeleteInput,
    AdminStickerPackageListInput,
    AdminStickerPackagePublishInput,
    AdminStickerPackageUpdateInput,
    StickerCollectionAddInput,
    StickerCollectionListPayload,
    StickerCollectionRemoveInput,
    StickerPackage,
    StickerPackageDetailInput,
    StickerPackageListInput,
    StickerPackageListPayload,
    StickerPackagePayload,
    StickerSpecInput,
)


def _specs(items: list[StickerSpecInput]) -> list[StickerSpec]:
    return [StickerSpec(file_id=str(i.file_id), emoji=i.emoji) for i in items]


async def sticker_package_list(ctx: RequestContext, input: StickerPackageListInput) -> StickerPackageListPayload:
    """Published sticker packs, oldest first."""
    page = await ctx.services.stickers.list_published(ctx.principal, cursor=input.cursor, limit=input.limit)
    return StickerPackageListPayload(
        packages=[StickerPackage.from_view(v) for v in page.items], next_cursor=page.next_cursor
    )


async def sticker_package_detail(ctx: RequestContext, input: StickerPackageDetailInput) -> StickerPackagePayload:
    """One published pack with its stickers in order."""
    view = await ctx.services.stickers.detail(ctx.principal, parse_id(input.package_id, "packageId"))
    return StickerPackagePayload(package=StickerPackage.from_view(view))


async def sticker_collection_list(ctx: RequestContext) -> StickerCollectionListPayload:
    """The packs in the caller's collection, in the order they were added."""
    views = await ctx.services.stickers.collection(ctx.principal)
    return StickerCollectionListPayload(packages=[StickerPackage.from_view(v) for v in views])


async def sticker_collection_add(ctx: RequestContext, input: StickerCollectionAddInput) -> StickerPackagePayload:
    """Add a published pack to the caller's collection (all their devices are told)."""
    view = await ctx.services.stickers.add_to_collection(ctx.principal, parse_id(input.package_id, "packageId"))
    return StickerPackagePayload(package=StickerPackage.from_view(view))


async def sticker_collection_remove(ctx: RequestContext, input: StickerCollectionRemoveInput) -> Ok:
    """Remove a pack from the caller's collection (all their devices are told)."""
    await ctx.services.stickers.remove_from_collection(ctx.principal, parse_id(input.package_id, "packageId"))
    return Ok()


async def admin_sticker_package_create(
    ctx: RequestContext, input: AdminStickerPackageCreateInput
) -> StickerPackagePayload:
    """Create a sticker pack (unpublished) from images uploaded with purpose STICKER."""
    actor = ctx.maybe_principal.user_id if ctx.maybe_principal is not None else None
    view = await ctx.services.stickers.create_pack(
        actor,
        name=input.name,
        description=input.description,
        cover_file_id=str(input.cover_file_id) if input.cover_file_id is not None else None,
        stickers=_specs(input.stickers),
    )
    return StickerPackagePayload(package=StickerPackage.from_view(view))


async def admin_sticker_package_update(
    ctx: RequestContext, input: AdminStickerPackageUpdateInput
) -> StickerPackagePayload:
    """Rename a pack, change its cover, or replace its ordered stickers."""
    view = await ctx.services.stickers.update_pack(
        parse_id(input.package_id, "packageId"),
        name=input.name,
        description=input.description,
        cover_file_id=str(input.cover_file_id) if input.cover_file_id is not None else None,
        stickers=_specs(input.stickers) if input.stickers is not None else None,
    )
    return StickerPackagePayload(package=StickerPackage.from_view(view))


async def admin_sticker_package_publish(
    ctx: RequestContext, input: AdminStickerPackagePublishInput
) -> StickerPackagePayload:
    """Publish a pack (users see it) or withdraw it."""
    view = await ctx.services.stickers.publish_pack(parse_id(input.package_id, "packageId"), published=input.published)
    return StickerPackagePayload(package=StickerPackage.from_view(view))


async def admin_sticker_package_delete(ctx: RequestContext, input: AdminStickerPackageDeleteInput) -> Ok:
    """Delete a pack: hidden everywhere, removed from collections, its images released."""
    await ctx.services.stickers.delete_pack(parse_id(input.package_id, "packageId"))
    return Ok()


async def admin_sticker_package_list(
    ctx: RequestContext, input: AdminStickerPackageListInput
) -> StickerPackageListPayload:
    """All packs that are not deleted, published or not."""
    page = await ctx.services.stickers.admin_list(cursor=input.cursor, limit=input.limit)
    return StickerPackageListPayload(
        packages=[StickerPackage.from_view(v) for v in page.items], next_cursor=page.next_cursor
    )


OPERATIONS = [
    query("sticker/package/list", sticker_package_list, audience=Audience.USER),
    query("sticker/package/detail", sticker_package_detail, audience=Audience.USER),
    query("sticker/collection/list", sticker_collection_list, audience=Audience.SELF),
    mutation("sticker/collection/add", sticker_collection_add, audience=Audience.SELF),
    mutation("sticker/collection/remove", sticker_collection_remove, audience=Audience.SELF),
    mutation("admin/sticker/package/create", admin_sticker_package_create, auth=Auth.ADMIN),
    mutation("admin/sticker/package/update", admin_sticker_package_update, auth=Auth.ADMIN),
    mutation("admin/sticker/package/publish", admin_sticker_package_publish, auth=Auth.ADMIN),
    mutation("admin/sticker/package/delete", admin_sticker_package_delete, auth=Auth.ADMIN),
    query("admin/sticker/package/list", admin_sticker_package_list, auth=Auth.ADMIN),
]
