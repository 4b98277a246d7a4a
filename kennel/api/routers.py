from ninja import NinjaAPI

api = NinjaAPI(title="Kennel API", version="1")
